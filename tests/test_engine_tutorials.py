"""Programs of our own that walk the API paths of the classic PyTorch tutorials (fitting a
polynomial seven ways, the tensor and autograd tours, a CNN classifier, nn from scratch up to
DataLoaders, the quickstart, checkpoints, custom autograd Functions, word embeddings), each run
twice by the record-and-replay harness: with torch, and with only the import lines changed to
engine's. Both runs must print the same text and numbers and end with the same weights."""

import contextlib
import math

import numpy as np
import pytest
from engine_parity import check_op, torch
from tutorial_harness import (
    as_numpy,
    assert_same_output,
    check_tutorial,
    engine_source,
    mnist_arrays,
    single_torch_thread,
)

import engine


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    with single_torch_thread():
        yield


def test_import_swap_changes_only_import_lines():
    src = "import torch\nimport torch.nn as nn\nfrom torch import optim\nx = torch.ones(2)\n"
    assert engine_source(src) == (
        "import engine as torch\nimport engine.nn as nn\nfrom engine import optim\n"
        "x = torch.ones(2)"
    )


def test_output_comparison_catches_a_wrong_number():
    assert_same_output("99 1234.5\ntensor([1., 2.])", "99 1234.51\ntensor([1., 2.])")
    with pytest.raises(AssertionError):
        assert_same_output("99 1234.5", "99 1235.5")
    with pytest.raises(AssertionError):
        assert_same_output("tensor([1., 2.])", "tensor([1., 2.], grad_fn=<AddBackward0>)")


# ---------------------------------------------------------------------- a cubic fitted to
# exp(x) on [-1.5, 1.5], seven ways: by hand, with autograd, with a custom Function, with
# nn.Sequential, with an optimizer, as a Module, and as a network whose depth changes per step

CUBIC_BY_HAND = """
import torch

grid = torch.linspace(-1.5, 1.5, 800, device=torch.device("cpu"), dtype=torch.float)
target = torch.exp(grid)
c0, c1, c2, c3 = (torch.randn((), dtype=torch.float) for _ in range(4))
step = 2e-5
for it in range(1200):
    fit = c0 + c1 * grid + c2 * grid ** 2 + c3 * grid ** 3
    err = fit - target
    if it % 150 == 149:
        print(it, err.pow(2).sum().item())
    g = 2.0 * err
    c0 -= step * g.sum()
    c1 -= step * (g * grid).sum()
    c2 -= step * (g * grid ** 2).sum()
    c3 -= step * (g * grid ** 3).sum()
print(f"exp(x) ~ {c0.item()} + {c1.item()} x + {c2.item()} x^2 + {c3.item()} x^3")
"""

CUBIC_AUTOGRAD = """
import torch

where = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print("running on", where)
torch.set_default_device(where)
grid = torch.linspace(-1.5, 1.5, 800)
target = torch.exp(grid)
coef = [torch.randn((), requires_grad=True) for _ in range(4)]
step = 2e-5
for it in range(1200):
    fit = coef[0] + coef[1] * grid + coef[2] * grid ** 2 + coef[3] * grid ** 3
    loss = (fit - target).pow(2).sum()
    if it % 150 == 149:
        print(it, loss.item())
    loss.backward()
    with torch.no_grad():
        for c in coef:
            c -= step * c.grad
            c.grad = None
print("coefficients", [round(c.item(), 4) for c in coef])
"""

CUBIC_FUNCTION = """
import torch


class Hermite3(torch.autograd.Function):
    # the probabilists' Hermite polynomial He3(t) = t^3 - 3t

    @staticmethod
    def forward(ctx, t):
        ctx.save_for_backward(t)
        return t ** 3 - 3 * t

    @staticmethod
    def backward(ctx, upstream):
        (t,) = ctx.saved_tensors
        return upstream * (3 * t ** 2 - 3)


grid = torch.linspace(-1.5, 1.5, 800)
target = torch.exp(grid)
scale = torch.full((), 0.5, requires_grad=True)
inner_w = torch.full((), 0.3, requires_grad=True)
inner_b = torch.full((), 0.1, requires_grad=True)
offset = torch.full((), 1.0, requires_grad=True)
he3 = Hermite3.apply
step = 1e-5
for it in range(1000):
    fit = offset + scale * he3(inner_b + inner_w * grid)
    loss = (fit - target).pow(2).sum()
    if it % 125 == 124:
        print(it, loss.item())
    loss.backward()
    with torch.no_grad():
        for p in (scale, inner_w, inner_b, offset):
            p -= step * p.grad
            p.grad = None
print(type(fit.grad_fn).__name__, scale.item(), inner_w.item(), inner_b.item(), offset.item())
"""

CUBIC_SEQUENTIAL = """
import torch

grid = torch.linspace(-1.5, 1.5, 800)
target = torch.exp(grid)
powers = torch.tensor([1, 2, 3])
features = grid.unsqueeze(-1).pow(powers)
net = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
mse = torch.nn.MSELoss(reduction="sum")
step = 2e-5
for it in range(1200):
    loss = mse(net(features), target)
    if it % 150 == 149:
        print(it, loss.item())
    net.zero_grad()
    loss.backward()
    with torch.no_grad():
        for p in net.parameters():
            p -= step * p.grad
head = net[0]
print(f"{head.bias.item()} + {head.weight[:, 0].item()} x + {head.weight[:, 1].item()} x^2"
      f" + {head.weight[:, 2].item()} x^3")
"""

CUBIC_RMSPROP = """
import torch

grid = torch.linspace(-1.5, 1.5, 800)
target = torch.exp(grid)
features = grid.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))
net = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
mse = torch.nn.MSELoss(reduction="sum")
opt = torch.optim.RMSprop(net.parameters(), lr=2e-3)
for it in range(1500):
    loss = mse(net(features), target)
    if it % 100 == 99:
        print(it, loss.item())
    opt.zero_grad()
    loss.backward()
    opt.step()
print(net[0].weight.tolist(), net[0].bias.item())
"""

CUBIC_MODULE = """
import torch


class Cubic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.k = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(())) for _ in range(4)])

    def forward(self, t):
        return self.k[0] + self.k[1] * t + self.k[2] * t ** 2 + self.k[3] * t ** 3

    def describe(self):
        return " + ".join(f"{p.item():.5f} x^{i}" for i, p in enumerate(self.k))


grid = torch.linspace(-1.5, 1.5, 800)
target = torch.exp(grid)
model = Cubic()
mse = torch.nn.MSELoss(reduction="sum")
opt = torch.optim.SGD(model.parameters(), lr=2e-5)
for it in range(1200):
    loss = mse(model(grid), target)
    if it % 150 == 149:
        print(it, loss.item())
    opt.zero_grad()
    loss.backward()
    opt.step()
print("fit:", model.describe())
"""

CUBIC_VARIABLE_DEPTH = """
import random
import torch


class VariableDepth(torch.nn.Module):
    # a polynomial whose degree (3 to 5) is drawn on every call; higher terms share one weight
    def __init__(self):
        super().__init__()
        self.low = torch.nn.Parameter(torch.randn(4))
        self.high = torch.nn.Parameter(torch.randn(()))

    def forward(self, t):
        out = self.low[0] + self.low[1] * t + self.low[2] * t ** 2 + self.low[3] * t ** 3
        for power in range(4, random.randint(4, 6)):
            out = out + self.high * t ** power
        return out


grid = torch.linspace(-1.5, 1.5, 800)
target = torch.exp(grid)
model = VariableDepth()
mse = torch.nn.MSELoss(reduction="sum")
opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)
for it in range(1000):
    loss = mse(model(grid), target)
    if it % 125 == 124:
        print(it, loss.item())
    opt.zero_grad()
    loss.backward()
    opt.step()
print(model.low.tolist(), model.high.item())
"""


def test_cubic_by_hand(tmp_path):
    t_out, *_ = check_tutorial(CUBIC_BY_HAND, tmp_path, names=("c0", "c1", "c2", "c3"))
    assert t_out.count("\n") == 9


def test_cubic_with_autograd(tmp_path):
    t_out, _, _, e_ns = check_tutorial(CUBIC_AUTOGRAD, tmp_path)
    assert t_out.startswith("running on cpu")
    assert all(c.grad is None and c.is_leaf and c.requires_grad for c in e_ns["coef"])


def test_cubic_with_a_custom_function(tmp_path):
    t_out, *_ = check_tutorial(CUBIC_FUNCTION, tmp_path, names=("scale", "inner_w", "offset"))
    assert t_out.splitlines()[-1].startswith("AddBackward0")


def test_cubic_with_sequential(tmp_path):
    check_tutorial(CUBIC_SEQUENTIAL, tmp_path, names=("features", "net"))


def test_cubic_with_rmsprop(tmp_path):
    # near the optimum RMSprop's normalised steps jitter: float32 rounding is amplified
    t_out, *_ = check_tutorial(CUBIC_RMSPROP, tmp_path, names=("net",), chaotic_from=10)
    assert float(t_out.splitlines()[14].split()[1]) < 1.0


def test_cubic_as_a_module(tmp_path):
    check_tutorial(CUBIC_MODULE, tmp_path, names=("model",))


def test_cubic_with_a_depth_drawn_per_call(tmp_path):
    check_tutorial(CUBIC_VARIABLE_DEPTH, tmp_path, names=("model",))


# ---------------------------------------------------------------------- tours of tensors and
# autograd: creation, attributes, indexing, joining, arithmetic, the numpy bridge; gradients
# with respect to leaves, external gradients, freezing, the old Variable-era walkthrough

TENSOR_TOUR = """
import numpy as np
import torch

rows = [[3, 1], [4, 1], [5, 9]]
from_list = torch.tensor(rows)
arr = np.array(rows)
from_arr = torch.from_numpy(arr)
same_shape_ones = torch.ones_like(from_list)
same_shape_rand = torch.rand_like(from_list, dtype=torch.float)
print(from_list, from_arr, same_shape_ones, same_shape_rand, sep="\\n")
dims = (3, 2)
print(torch.rand(dims), torch.ones(dims), torch.zeros(dims), sep="\\n")
grid = torch.rand(2, 5)
print(f"shape {grid.shape} dtype {grid.dtype} lives on {grid.device}")
board = torch.ones(5, 5)
print("first row", board[0], "first column", board[:, 0], "last column", board[..., -1])
board[:, 2] = 0
print(board)
joined = torch.cat([board, board * 2], dim=1)
print(joined.shape)
p = board @ board.T
q = board.matmul(board.T)
r = torch.rand_like(p)
torch.matmul(board, board.T, out=r)
h1 = board * board
h2 = board.mul(board)
h3 = torch.rand_like(board)
torch.mul(board, board, out=h3)
print(p, q, r, h1, h2, h3, sep="\\n")
total = board.sum()
as_number = total.item()
print(as_number, type(as_number))
board.add_(7)
print(board)
shared = torch.ones(4)
view_np = shared.numpy()
shared.add_(2)
print(shared, view_np)
plain = np.zeros(3)
wrapped = torch.from_numpy(plain)
np.add(plain, 5, out=plain)
print(plain, wrapped)
print(torch.tensor(np.arange(3)).dtype, torch.tensor([0.5, 1.5], dtype=torch.float64))
"""

AUTOGRAD_TOUR = """
import torch
from torch import nn, optim


class SmallConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.head = nn.Linear(6, 20)

    def forward(self, x):
        return self.head(torch.flatten(self.pool(self.act(self.stem(x))), 1))


net = SmallConvNet()
images = torch.rand(2, 3, 16, 16)
wanted = torch.rand(2, 20)
out = net(images)
loss = (out - wanted).sum()
loss.backward()
sgd = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
sgd.step()
u = torch.tensor([1.5, -2.0], requires_grad=True)
v = torch.tensor([0.5, 3.0], requires_grad=True)
poly = 2 * u ** 3 - v ** 2 + u * v
poly.backward(gradient=torch.tensor([1.0, 0.5]))
print(u.grad, v.grad)
print(torch.allclose(u.grad, (6 * u ** 2 + v) * torch.tensor([1.0, 0.5])))
left = torch.rand(3, 3)
right = torch.rand((3, 3), requires_grad=True)
print("left+left needs grad:", (left + left).requires_grad)
print("left+right needs grad:", (left + right).requires_grad)
tuned = SmallConvNet()
for p in tuned.parameters():
    p.requires_grad = False
tuned.head = nn.Linear(6, 4)
opt = optim.SGD(tuned.parameters(), lr=1e-2, momentum=0.9)
before = tuned.stem.weight.clone()
score = tuned(images).logsumexp(1).sum()
score.backward()
opt.step()
print(score, tuned.stem.weight.grad, tuned.head.bias.grad)
print(torch.equal(before, tuned.stem.weight))
"""

AUTOGRAD_WALKTHROUGH = """
import torch

leaf = torch.ones(3, 2, requires_grad=True)
print(leaf)
shifted = leaf - 1.5
print(shifted, shifted.grad_fn)
squared = shifted * shifted * 2
avg = squared.mean()
print(squared, avg)
plain = torch.randn(2, 2)
plain = (plain * 2) / (plain + 3)
print(plain.requires_grad)
plain.requires_grad_(True)
print(plain.requires_grad)
combined = (plain * plain).sum()
print(combined.grad_fn)
avg.backward()
print(leaf.grad)
x = torch.randn(3, requires_grad=True)
y = x * 3
steps = 0
while y.data.norm() < 100:
    y = y * 3
    steps += 1
print(steps, y)
v = torch.tensor([0.1, 1.0, 0.001], dtype=torch.float)
y.backward(v)
print(x.grad)
print(x.requires_grad, (x ** 2).requires_grad)
with torch.no_grad():
    print((x ** 2).requires_grad)
z = x.detach()
print(z.requires_grad, x.eq(z).all())
"""

AUTOGRAD_BASICS = """
import torch

features = torch.ones(4)
label = torch.zeros(2)
w = torch.randn(4, 2, requires_grad=True)
b = torch.randn(2, requires_grad=True)
logits = torch.matmul(features, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, label)
print(f"node of logits = {logits.grad_fn}")
print(f"node of loss = {loss.grad_fn}")
loss.backward()
print(w.grad)
print(b.grad)
logits = torch.matmul(features, w) + b
print(logits.requires_grad)
with torch.no_grad():
    logits = torch.matmul(features, w) + b
print(logits.requires_grad)
logits = torch.matmul(features, w) + b
cut = logits.detach()
print(cut.requires_grad)
start = torch.eye(3, 4, requires_grad=True)
result = (start + 2).pow(2).t()
result.backward(torch.ones_like(result), retain_graph=True)
print(f"first\\n{start.grad}")
result.backward(torch.ones_like(result), retain_graph=True)
print(f"accumulated\\n{start.grad}")
start.grad.zero_()
result.backward(torch.ones_like(result), retain_graph=True)
print(f"after zeroing\\n{start.grad}")
"""


def test_tensor_tour(tmp_path):
    t_out, _, _, e_ns = check_tutorial(TENSOR_TOUR, tmp_path, names=("board", "p", "r", "h3"))
    assert "dtype=torch.float64" in t_out and "torch.Size([5, 10])" in t_out
    # from_numpy and numpy() share memory both ways
    assert e_ns["wrapped"].tolist() == [5.0] * 3 and e_ns["view_np"].tolist() == [3.0] * 4


def test_autograd_tour(tmp_path):
    t_out, *_ = check_tutorial(AUTOGRAD_TOUR, tmp_path, names=("net", "tuned", "poly"))
    assert t_out.splitlines()[1] == "True" and t_out.splitlines()[-1] == "True"


def test_autograd_walkthrough(tmp_path):
    t_out, *_ = check_tutorial(AUTOGRAD_WALKTHROUGH, tmp_path, names=("leaf", "x"))
    assert "grad_fn=<SubBackward0>" in t_out and "<SumBackward0 object" in t_out


def test_autograd_basics(tmp_path):
    t_out, *_ = check_tutorial(AUTOGRAD_BASICS, tmp_path, names=("w", "b", "start"))
    assert "BinaryCrossEntropyWithLogitsBackward0" in t_out


# ---------------------------------------------------------------------- image classifiers on
# MNIST (the repository's sample; the programs receive numpy arrays as torchvision would give)
@pytest.fixture(scope="module")
def mnist_subset(mnist_dir):
    return mnist_arrays(mnist_dir)


CONV_CLASSIFIER = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


def as_dataset(pixels, digits):
    scaled = (torch.tensor(pixels, dtype=torch.float32).unsqueeze(1) / 255 - 0.5) / 0.5
    return torch.utils.data.TensorDataset(scaled, torch.tensor(digits))


train_loader = torch.utils.data.DataLoader(
    as_dataset(mnist_x_train, mnist_y_train), batch_size=8, shuffle=True, num_workers=0)
test_loader = torch.utils.data.DataLoader(
    as_dataset(mnist_x_test, mnist_y_test), batch_size=8, shuffle=False, num_workers=0)
digits = tuple(str(d) for d in range(10))


class TwoConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 5)
        self.down = nn.MaxPool2d(2, 2)
        self.c2 = nn.Conv2d(4, 8, 5)
        self.f1 = nn.Linear(8 * 4 * 4, 32)
        self.f2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.down(F.relu(self.c1(x)))
        x = self.down(F.relu(self.c2(x)))
        x = torch.flatten(x, 1)
        return self.f2(F.relu(self.f1(x)))


net = TwoConv()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
for epoch in range(2):
    running = 0.0
    for i, (inputs, labels) in enumerate(train_loader, 0):
        optimizer.zero_grad()
        loss = criterion(net(inputs), labels)
        loss.backward()
        optimizer.step()
        running += loss.item()
        if i % 25 == 24:
            print(f"[{epoch + 1}, {i + 1:3d}] loss: {running / 25:.3f}")
            running = 0.0
print("trained")
torch.save(net.state_dict(), "./digits_net.pth")
net = TwoConv()
net.load_state_dict(torch.load("./digits_net.pth", weights_only=True))
correct = 0
total = 0
with torch.no_grad():
    for images, labels in test_loader:
        _, predicted = torch.max(net(images), 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
print(f"accuracy on {total} test images: {100 * correct // total} %")
hits = {d: 0 for d in digits}
seen = {d: 0 for d in digits}
with torch.no_grad():
    for images, labels in test_loader:
        _, predictions = torch.max(net(images), 1)
        for label, prediction in zip(labels, predictions):
            if label == prediction:
                hits[digits[label]] += 1
            seen[digits[label]] += 1
for d, n in hits.items():
    print(f"digit {d}: {100 * float(n) / max(seen[d], 1):.1f} %")
"""


def test_conv_classifier_on_mnist(tmp_path, mnist_subset):
    # 400 training images: the first 100 steps stay before the steep part of the learning
    # curve, where float32 rounding differences between two libraries stay small
    env = {k: v[:400] if "train" in k else v[:200] for k, v in mnist_subset.items()}
    t_out, e_out, t_ns, e_ns = check_tutorial(
        CONV_CLASSIFIER, tmp_path, names=("net",), env=env, rtol=1e-3, atol=1e-3
    )
    assert t_out.count("loss:") == 4 and "trained" in t_out
    assert t_ns["correct"] == e_ns["correct"] and t_ns["total"] == e_ns["total"] == 200
    assert (tmp_path / "engine" / "digits_net.pth").is_file()


NN_FROM_SCRATCH = """
import math
import numpy as np
import torch

x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
n, c = x_train.shape
print(x_train.shape, y_train.min(), y_train.max())
W = torch.randn(784, 10) / math.sqrt(784)
W.requires_grad_()
b0 = torch.zeros(10, requires_grad=True)


def log_probs(z):
    return z - z.exp().sum(-1).log().unsqueeze(-1)


def linear_model(batch):
    return log_probs(batch @ W + b0)


def neg_log_likelihood(logp, target):
    return -logp[range(target.shape[0]), target].mean()


def hit_rate(out, target):
    return (torch.argmax(out, dim=1) == target).float().mean()


size = 50
xb, yb = x_train[:size], y_train[:size]
scores = linear_model(xb)
print(scores[0], scores.shape)
print(neg_log_likelihood(scores, yb), hit_rate(scores, yb))
lr, epochs = 0.5, 2
for epoch in range(epochs):
    for i in range((n - 1) // size + 1):
        xb, yb = x_train[i * size:(i + 1) * size], y_train[i * size:(i + 1) * size]
        loss = neg_log_likelihood(linear_model(xb), yb)
        loss.backward()
        with torch.no_grad():
            W -= W.grad * lr
            b0 -= b0.grad * lr
            W.grad.zero_()
            b0.grad.zero_()
print(neg_log_likelihood(linear_model(xb), yb), hit_rate(linear_model(xb), yb))

import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

criterion = F.cross_entropy


class Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
        self.b = nn.Parameter(torch.zeros(10))

    def forward(self, batch):
        return batch @ self.W + self.b


model = Logistic()
print(criterion(model(xb), yb))
for i in range((n - 1) // size + 1):
    xb, yb = x_train[i * size:(i + 1) * size], y_train[i * size:(i + 1) * size]
    criterion(model(xb), yb).backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= p.grad * lr
        model.zero_grad()
print(criterion(model(xb), yb))


class LogisticLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, batch):
        return self.lin(batch)


def new_model():
    m = LogisticLayer()
    return m, optim.SGD(m.parameters(), lr=lr)


train_ds = TensorDataset(x_train, y_train)
model, opt = new_model()
for i in range((n - 1) // size + 1):
    xb, yb = train_ds[i * size: i * size + size]
    loss = criterion(model(xb), yb)
    loss.backward()
    opt.step()
    opt.zero_grad()
print(criterion(model(xb), yb))


def step_on(model, loss_fn, xb, yb, opt=None):
    loss = loss_fn(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def train(epochs, model, loss_fn, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            step_on(model, loss_fn, xb, yb, opt)
        model.eval()
        with torch.no_grad():
            losses, counts = zip(*[step_on(model, loss_fn, xb, yb) for xb, yb in valid_dl])
        print(epoch, np.sum(np.multiply(losses, counts)) / np.sum(counts))


def loaders(train_ds, valid_ds, bs):
    return (DataLoader(train_ds, batch_size=bs, shuffle=True),
            DataLoader(valid_ds, batch_size=bs * 2))


train_dl, valid_dl = loaders(train_ds, TensorDataset(x_valid, y_valid), size)
model, opt = new_model()
with torch.no_grad():
    total = sum(criterion(model(xb), yb) for xb, yb in valid_dl)
print("before", total / len(valid_dl))
train(epochs, model, criterion, opt, train_dl, valid_dl)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, kernel_size=3, stride=2, padding=1)
        self.c2 = nn.Conv2d(8, 10, kernel_size=3, stride=2, padding=1)

    def forward(self, xb):
        xb = xb.view(-1, 1, 28, 28)
        xb = F.relu(self.c1(xb))
        xb = F.relu(self.c2(xb))
        xb = F.avg_pool2d(xb, 7)
        return xb.view(-1, xb.size(1))


cnn = SmallCNN()
opt = optim.SGD(cnn.parameters(), lr=0.1, momentum=0.9)
train(1, cnn, criterion, opt, train_dl, valid_dl)


class Apply(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Reshaped:
    def __init__(self, dl, fn):
        self.dl, self.fn = dl, fn

    def __len__(self):
        return len(self.dl)

    def __iter__(self):
        for b in self.dl:
            yield self.fn(*b)


train_dl = Reshaped(train_dl, lambda x, y: (x.view(-1, 1, 28, 28), y))
valid_dl = Reshaped(valid_dl, lambda x, y: (x.view(-1, 1, 28, 28), y))
sequential = nn.Sequential(
    nn.Conv2d(1, 8, kernel_size=3, stride=2, padding=1), nn.ReLU(),
    nn.Conv2d(8, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), Apply(lambda x: x.view(x.size(0), -1)),
)
print(sequential)
opt = optim.SGD(sequential.parameters(), lr=0.1, momentum=0.9)
train(1, sequential, criterion, opt, train_dl, valid_dl)
"""


def test_nn_from_scratch_to_dataloaders(tmp_path, mnist_subset):
    env = {
        "x_train": mnist_subset["mnist_x_train"][:1000].reshape(-1, 784).astype(np.float32) / 255,
        "y_train": mnist_subset["mnist_y_train"][:1000],
        "x_valid": mnist_subset["mnist_x_test"][:400].reshape(-1, 784).astype(np.float32) / 255,
        "y_valid": mnist_subset["mnist_y_test"][:400],
    }
    t_out, *_ = check_tutorial(
        NN_FROM_SCRATCH, tmp_path, names=("W", "b0", "cnn", "sequential", "model"), env=env,
        rtol=1e-3, atol=1e-4,
    )
    assert "grad_fn=<NegBackward0>" in t_out and "grad_fn=<NllLossBackward0>" in t_out
    assert "AdaptiveAvgPool2d(output_size=1)" in t_out


QUICKSTART_PATHS = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

train_set = TensorDataset(torch.tensor(mnist_x_train, dtype=torch.float32).unsqueeze(1) / 255,
                          torch.tensor(mnist_y_train))
test_set = TensorDataset(torch.tensor(mnist_x_test, dtype=torch.float32).unsqueeze(1) / 255,
                         torch.tensor(mnist_y_test))
train_dl = DataLoader(train_set, batch_size=32)
test_dl = DataLoader(test_set, batch_size=32)
for X, y in test_dl:
    print(f"X [N, C, H, W]: {X.shape}; y: {y.shape} {y.dtype}")
    break
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.stack = nn.Sequential(nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 64),
                                   nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.stack(self.flatten(x))


model = Classifier().to(device)
print(model)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=5e-2)


def train_epoch(loader, model, loss_fn, optimizer):
    size = len(loader.dataset)
    model.train()
    for batch, (X, y) in enumerate(loader):
        X, y = X.to(device), y.to(device)
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 20 == 0:
            print(f"loss: {loss.item():>7f}  [{(batch + 1) * len(X):>5d}/{size:>5d}]")


def evaluate(loader, model, loss_fn):
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in loader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    print(f"accuracy {100 * correct / len(loader.dataset):>0.1f}%, "
          f"loss {test_loss / len(loader):>8f}")


for t in range(2):
    print(f"epoch {t + 1}")
    train_epoch(train_dl, model, loss_fn, optimizer)
    evaluate(test_dl, model, loss_fn)
torch.save(model.state_dict(), "classifier.pth")
model = Classifier().to(device)
model.load_state_dict(torch.load("classifier.pth", weights_only=True))
names = [str(d) for d in range(10)]
model.eval()
x, y = test_set[3][0], test_set[3][1]
with torch.no_grad():
    guess = model(x.to(device))
    print(f"guessed {names[guess[0].argmax(0)]}, was {names[y]}")
X = torch.rand(2, 28, 28, device=device)
pred_probab = nn.Softmax(dim=1)(model(X))
print(f"classes: {pred_probab.argmax(1)}")
batch = torch.rand(3, 28, 28)
flat = nn.Flatten()(batch)
hidden = nn.ReLU()(nn.Linear(in_features=28 * 28, out_features=20)(flat))
print(flat.size(), hidden.size(), hidden.min() >= 0)
chain = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 20), nn.ReLU(), nn.Linear(20, 10))
print(nn.Softmax(dim=1)(chain(batch)).sum(1))
for name, param in model.named_parameters():
    print(f"{name} | {param.size()} | {param[:2]}")
"""


def test_quickstart_paths(tmp_path, mnist_subset):
    env = {k: v[:1000] if "train" in k else v[:300] for k, v in mnist_subset.items()}
    t_out, *_ = check_tutorial(
        QUICKSTART_PATHS, tmp_path, names=("model", "pred_probab"), env=env, rtol=1e-3,
        atol=1e-4,
    )
    assert "accuracy" in t_out and "stack.4.bias" in t_out


CHECKPOINTS = """
import torch
import torch.nn as nn
import torch.optim as optim

net = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
x, y = torch.randn(8, 6), torch.randn(8, 2)
loss = nn.functional.mse_loss(net(x), y)
loss.backward()
opt.step()
print("weights:")
for key in net.state_dict():
    print(key, "\\t", net.state_dict()[key].size())
print("optimizer:")
for key, value in opt.state_dict().items():
    print(key, "\\t", value)
torch.save(net.state_dict(), "weights.pt")
twin = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
print(twin.load_state_dict(torch.load("weights.pt", weights_only=True)))
twin.eval()
torch.save({"epoch": 3, "model_state_dict": net.state_dict(),
            "optimizer_state_dict": opt.state_dict(), "loss": loss}, "checkpoint.tar")
state = torch.load("checkpoint.tar", weights_only=True)
model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
resumed = optim.SGD(model.parameters(), lr=0.5)
model.load_state_dict(state["model_state_dict"])
resumed.load_state_dict(state["optimizer_state_dict"])
print(state["epoch"], state["loss"], resumed.param_groups[0]["lr"])
model.train()
nn.functional.mse_loss(model(x), y).backward()
resumed.step()
print(model[0].bias)
"""


def test_checkpoints(tmp_path):
    t_out, *_ = check_tutorial(CHECKPOINTS, tmp_path, names=("model", "twin"))
    assert "'momentum': 0.9" in t_out and "momentum_buffer" in t_out


CUSTOM_FUNCTIONS = """
import torch
import torch.nn as nn
from torch.autograd import Function
from torch.autograd import gradcheck


class Affine(Function):
    @staticmethod
    def forward(inp, weight, shift=None):
        out = inp.mm(weight.t())
        if shift is not None:
            out += shift.unsqueeze(0).expand_as(out)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        inp, weight, shift = inputs
        ctx.save_for_backward(inp, weight, shift)

    @staticmethod
    def backward(ctx, grad_out):
        inp, weight, shift = ctx.saved_tensors
        g_inp = g_weight = g_shift = None
        if ctx.needs_input_grad[0]:
            g_inp = grad_out.mm(weight)
        if ctx.needs_input_grad[1]:
            g_weight = grad_out.t().mm(inp)
        if shift is not None and ctx.needs_input_grad[2]:
            g_shift = grad_out.sum(0)
        return g_inp, g_weight, g_shift


class Scale(Function):
    @staticmethod
    def forward(t, factor):
        return t * factor

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.factor = inputs[1]

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out * ctx.factor, None


class SquareWithSlope(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x * x, 2 * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x, output[1])

    @staticmethod
    def backward(ctx, g_value, g_slope):
        x, slope = ctx.saved_tensors
        return g_value * slope + g_slope * 2


def square(x):
    return SquareWithSlope.apply(x)[0]


pair = (torch.randn(6, 5, dtype=torch.double, requires_grad=True),
        torch.randn(4, 5, dtype=torch.double, requires_grad=True))
print(gradcheck(Affine.apply, pair, eps=1e-6, atol=1e-4))


class AffineLayer(nn.Module):
    def __init__(self, n_in, n_out, shift=True):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.weight = nn.Parameter(torch.empty(n_out, n_in))
        if shift:
            self.shift = nn.Parameter(torch.empty(n_out))
        else:
            self.register_parameter("shift", None)
        nn.init.uniform_(self.weight, -0.2, 0.2)
        if self.shift is not None:
            nn.init.uniform_(self.shift, -0.2, 0.2)

    def forward(self, inp):
        return Affine.apply(inp, self.weight, self.shift)

    def extra_repr(self):
        return f"n_in={self.n_in}, n_out={self.n_out}, shift={self.shift is not None}"


layer = AffineLayer(5, 3)
print(layer)
x = torch.randn(2, 5, requires_grad=True)
scaled = Scale.apply(layer(x), 1.5)
sq = square(scaled)
sq.sum().backward()
print(scaled, sq)
print(x.grad, layer.weight.grad, layer.shift.grad)
print(gradcheck(square, (torch.randn(4, dtype=torch.double, requires_grad=True),)))
"""


def test_custom_functions_with_setup_context(tmp_path):
    t_out, *_ = check_tutorial(CUSTOM_FUNCTIONS, tmp_path, names=("layer", "x", "sq"))
    assert t_out.splitlines()[0] == "True" and t_out.splitlines()[-1] == "True"
    assert "AffineLayer(n_in=5, n_out=3, shift=True)" in t_out


CONTEXT_WORDS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

torch.manual_seed(1)
lookup = {"sun": 0, "rain": 1}
table = nn.Embedding(2, 4)
print(table(torch.tensor([lookup["rain"]], dtype=torch.long)))
WINDOW = 2
WIDTH = 8
text = (
    "the river runs past the mill and the mill turns while the river runs on "
    "past the town where the bakers wake before the sun and the sun finds the river"
).split()
samples = [([text[i - j - 1] for j in range(WINDOW)], text[i]) for i in range(WINDOW, len(text))]
print(samples[:2])
vocab = sorted(set(text))
index = {w: i for i, w in enumerate(vocab)}


class WindowModel(nn.Module):
    def __init__(self, vocab_size, width, window):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width)
        self.hidden = nn.Linear(window * width, 32)
        self.out = nn.Linear(32, vocab_size)

    def forward(self, ids):
        e = self.embed(ids).view((1, -1))
        return F.log_softmax(self.out(F.relu(self.hidden(e))), dim=1)


losses = []
nll = nn.NLLLoss()
model = WindowModel(len(vocab), WIDTH, WINDOW)
opt = optim.SGD(model.parameters(), lr=0.01)
for epoch in range(6):
    total = 0
    for context, word in samples:
        ids = torch.tensor([index[w] for w in context], dtype=torch.long)
        model.zero_grad()
        loss = nll(model(ids), torch.tensor([index[word]], dtype=torch.long))
        loss.backward()
        opt.step()
        total += loss.item()
    losses.append(total)
print(losses)
print(model.embed.weight[index["river"]])
print(model.embed)
"""


def test_context_window_word_model(tmp_path):
    t_out, *_ = check_tutorial(CONTEXT_WORDS, tmp_path, names=("model", "table"))
    assert "grad_fn=<EmbeddingBackward0>" in t_out and "Embedding(" in t_out


# ---------------------------------------------------------------------- small parity tests of
# fixes these programs found (each op against torch)


def test_sin_cos_match_torch_with_gradients():
    check_op(lambda m, a: m.torch.sin(a) * a.cos(), [(3, 4)])
    check_op(lambda m, a: a.sin() + m.torch.cos(a), [(5,)])
    x = engine.tensor([0.5, -1.0], dtype=engine.float64, requires_grad=True)
    assert engine.autograd.gradcheck(lambda v: v.sin() * engine.cos(v), (x,))
    assert engine.sin(engine.tensor([1, 2])).dtype is engine.float32


def test_augmented_assignment_updates_in_place_like_torch():
    for lib in (torch, engine):
        w = lib.ones(3, requires_grad=True)
        (w * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        same = w
        with lib.no_grad():
            w -= 0.5 * w.grad
            w *= 2
            w += 1
            w /= 4
        assert w is same and w.is_leaf and w.requires_grad and w.grad_fn is None
        np.testing.assert_allclose(as_numpy(w), [0.5, 0.25, 0.0])
        # with grad mode on, a leaf that wants a gradient refuses in-place updates
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            w -= 1
        # a non-leaf updated in place stays in the graph
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        y += x
        y.sum().backward()
        np.testing.assert_allclose(as_numpy(x.grad), [4.0, 4.0])


def test_device_queries_say_cpu_only():
    assert engine.cuda.is_available() is False
    assert engine.accelerator.is_available() is False
    assert engine.accelerator.current_accelerator() is None
    assert engine.backends.mps.is_available() is False
    engine.set_default_device("cpu")
    engine.set_default_device(None)
    assert str(engine.get_default_device()) == "cpu"
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        engine.set_default_device("cuda")


def test_out_keyword_writes_into_the_given_tensor_like_torch():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    for lib in (torch, engine):
        x = lib.tensor(a)
        out = lib.empty(2, 3)
        assert lib.add(x, 1, out=out) is out and lib.mul(x, x, out=out) is out
        np.testing.assert_array_equal(as_numpy(out), a * a)
        out2 = lib.empty(0)  # resized to the result, as torch does (with a warning there)
        with contextlib.suppress(UserWarning):
            lib.matmul(x, x.T, out=out2)
        np.testing.assert_allclose(as_numpy(out2), a @ a.T)
        with pytest.raises(RuntimeError, match="out=... arguments don't support automatic"):
            lib.exp(lib.ones(2, requires_grad=True), out=lib.empty(2))


def test_logsumexp_matches_torch():
    check_op(lambda m, a: a.logsumexp(1), [(3, 4)], low=-30, high=30)
    check_op(lambda m, a: m.torch.logsumexp(a, (0, 2), keepdim=True), [(2, 3, 4)])
    x = engine.tensor(np.random.default_rng(0).normal(size=(2, 3)), requires_grad=True)
    assert engine.autograd.gradcheck(lambda v: v.logsumexp(-1), (x,))


# ---------------------------------------------------------------------- MNIST subsets


def test_saved_tensor_keeps_requires_grad_like_torch(tmp_path):
    for lib in (torch, engine):
        w = lib.ones(2, requires_grad=True)
        loss = (w * 3).sum()
        path = tmp_path / f"{lib.__name__}.pt"
        lib.save({"loss": loss, "w": w, "plain": lib.zeros(1), "n": lib.arange(3)}, path)
        back = lib.load(path, weights_only=True)
        assert back["loss"].requires_grad and back["loss"].is_leaf
        assert back["w"].requires_grad and not back["plain"].requires_grad
        assert not back["n"].requires_grad and back["loss"].item() == 6.0


# ops tutorials reach for that the first engine lacked (each with values and gradients vs torch)
MORE_OPS = [
    ("flip", lambda m, a: a.flip(0) * a.flip(1), [(3, 4)]),
    ("flip_dims", lambda m, a: m.torch.flip(a, (0, 2)), [(2, 3, 2)]),
    ("cumsum", lambda m, a: a.cumsum(1) ** 2, [(3, 4)]),
    ("cumsum_neg_dim", lambda m, a: m.torch.cumsum(a, dim=-1), [(2, 3, 4)]),
    ("tril", lambda m, a: a.tril() * 2, [(4, 4)]),
    ("triu_offset", lambda m, a: m.torch.triu(a, 1) + a.triu(-1), [(3, 5)]),
    ("diag_embed", lambda m, a: m.torch.diag(a) * 3, [(4,)]),
    ("diag_embed_offset", lambda m, a: a.diag(1), [(3,)]),
    ("diagonal", lambda m, a: a.diag() * a.diag(-1).sum(), [(4, 3)]),
    ("index_select", lambda m, a: a.index_select(1, m.torch.tensor([2, 0, 2])), [(3, 4)]),
    ("round_floor_ceil", lambda m, a: a.round() + a.floor() * a + a.ceil(), [(3, 4)]),
    ("round_decimals", lambda m, a: m.torch.round(a, decimals=2) * a, [(3,)]),
    ("dot", lambda m, a, b: a.dot(b) + m.torch.dot(b, a), [(5,), (5,)]),
    ("bmm", lambda m, a, b: m.torch.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    ("exp_of_int_is_float32", lambda m, a: m.torch.exp(m.torch.tensor([1, 2])) * a, [(2,)]),
    ("sum_mean_axis", lambda m, a: a.sum(axis=0) + a.mean(axis=0), [(3, 4)]),
]


@pytest.mark.parametrize("case", MORE_OPS, ids=[c[0] for c in MORE_OPS])
def test_more_ops_match_torch(case):
    _, fn, shapes = case
    check_op(fn, shapes)


def test_more_ops_gradcheck_and_index_helpers():
    x = engine.tensor(np.random.default_rng(1).normal(size=(3, 3)), requires_grad=True)
    for fn in (
        lambda v: v.flip(1) * v,
        lambda v: v.cumsum(0) * v,
        lambda v: v.tril(-1) + v.triu(1) * 2,
        lambda v: engine.diag(v.diag(), 1),
        lambda v: v.index_select(0, engine.tensor([1, 1, 0])),
    ):
        assert engine.autograd.gradcheck(fn, (x,))
    check_op(
        lambda m, i: (
            i.nonzero(), *m.torch.nonzero(i, as_tuple=True), *m.torch.where(i > 0),
            i.cumsum(0), i.round(), m.torch.isclose(i.float(), i.float() + 1e-9),
        ),
        values=[np.array([0, 3, 0, 1], dtype=np.int64)],
        grad=False,
    )


def test_load_state_dict_result_prints_like_torch():
    for lib in (torch, engine):
        m = lib.nn.Linear(2, 1)
        assert repr(m.load_state_dict(m.state_dict())) == "<All keys matched successfully>"
        r = m.load_state_dict({"weight": lib.ones(1, 2)}, strict=False)
        assert r.missing_keys == ["bias"] and r.unexpected_keys == []
        assert str(r) == "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])"


@pytest.mark.parametrize(
    "args", [(-math.pi, math.pi, 2000), (-3.14159, 3.14159, 7), (-1, 1, 2000), (0, 1, 5),
             (-5, 3.3, 1001), (1, 0, 4), (2, 2, 3), (0, 1, 1), (0, 1, 0)]
)
def test_linspace_gives_torchs_float32_values_exactly(args):
    # the tutorials' x; a float64 linspace rounded to float32 was 1 ulp off (and printed 0.0000
    # where torch prints -1.1921e-07)
    np.testing.assert_array_equal(engine.linspace(*args).numpy(), torch.linspace(*args).numpy())
    assert repr(engine.linspace(*args)) == repr(torch.linspace(*args))



# ---------------------------------------------------------------------- "Extending PyTorch":
# custom autograd Functions (2.x style: forward without ctx + setup_context), gradcheck, and a
# Linear module built on one.


def test_embedding_matches_torch():
    w = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    for kwargs in ({}, {"padding_idx": 2}, {"scale_grad_by_freq": True}, {"padding_idx": -1}):
        check_op(
            lambda m, wt, i, kw=kwargs: m.F.embedding(i, wt, **kw) * 2, values=[w, idx],
        )
        e = engine.nn.Embedding(6, 3, **kwargs)
        t = torch.nn.Embedding(6, 3, **kwargs)
        assert repr(e) == repr(t)
        if "padding_idx" in kwargs:
            assert not e.weight[kwargs["padding_idx"]].detach().numpy().any()
    # max_norm renormalises the looked-up rows of the weight in place
    we, wt = engine.tensor(w * 3), torch.tensor(w * 3)
    out_e = engine.nn.functional.embedding(engine.tensor(idx), we, max_norm=1.0)
    out_t = torch.nn.functional.embedding(torch.tensor(idx), wt, max_norm=1.0)
    np.testing.assert_allclose(out_e.numpy(), out_t.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(we.numpy(), wt.numpy(), rtol=1e-5, atol=1e-6)
    pre = engine.nn.Embedding.from_pretrained(engine.tensor(w))
    assert not pre.weight.requires_grad and repr(pre) == "Embedding(6, 3)"
    with pytest.raises(IndexError, match="index out of range"):
        engine.nn.Embedding(3, 2)(engine.tensor([3]))
