"""Programs of our own in the style of public teaching code (textbook chapter helpers, the
classic example scripts, scalar-autograd tests, older books' legacy API), run by the
record-and-replay harness with torch and with engine imports: same printed numbers, same final
weights. Each walks API paths such code takes: accuracy via argmax(axis=1), normal(...,
requires_grad=True), dropout and batch norm written out by hand, lazy layers, Adadelta with
StepLR, typed constructors, scatter_ one-hot codes, and more."""

import numpy as np
import pytest
from tutorial_harness import check_tutorial, mnist_arrays, single_torch_thread

# both libraries warn (once) when a program takes float() of a loss that requires grad
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    with single_torch_thread():
        yield


@pytest.fixture(scope="module")
def digits(mnist_dir):
    arrays = mnist_arrays(mnist_dir, train=600, test=200)
    return {
        "train_images": arrays["mnist_x_train"], "train_labels": arrays["mnist_y_train"],
        "test_images": arrays["mnist_x_test"], "test_labels": arrays["mnist_y_test"],
    }


# A data set many programs share: 2-D points in three noisy clusters.
CLUSTERS = """
import torch

def clusters(n_per, spread=0.6):
    centres = torch.tensor([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    points = torch.cat([centres[k] + spread * torch.randn(n_per, 2) for k in range(3)])
    labels = torch.arange(3).repeat_interleave(n_per) if hasattr(torch, "repeat_interleave") \\
        else torch.cat([torch.full((n_per,), k) for k in range(3)])
    return points, labels
"""

LINEAR_REGRESSION_FROM_SCRATCH = """
import random
import torch

def make_data(w, b, n):
    X = torch.normal(0, 1, (n, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))

true_w = torch.tensor([1.5, -2.5, 0.7])
true_b = 3.1
features, labels = make_data(true_w, true_b, 300)
print("first example:", features[0], labels[0])

def batches(batch_size, X, y):
    order = list(range(len(X)))
    random.shuffle(order)
    for i in range(0, len(X), batch_size):
        picked = torch.tensor(order[i:min(i + batch_size, len(X))])
        yield X[picked], y[picked]

w = torch.normal(0, 0.01, size=(3, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)

def linreg(X, w, b):
    return torch.matmul(X, w) + b

def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()

for epoch in range(3):
    for X, y in batches(20, features, labels):
        squared_loss(linreg(X, w, b), y).sum().backward()
        sgd([w, b], 0.05, 20)
    with torch.no_grad():
        epoch_loss = squared_loss(linreg(features, w, b), labels)
        print(f"epoch {epoch + 1}, loss {float(epoch_loss.mean()):f}")
print("error in w:", true_w - w.reshape(true_w.shape))
print("error in b:", true_b - b)
"""

SOFTMAX_REGRESSION_FROM_SCRATCH = CLUSTERS + """
points, labels = clusters(40)
W = torch.normal(0, 0.01, size=(2, 3), requires_grad=True)
b = torch.zeros(3, requires_grad=True)

def softmax(X):
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(1, keepdim=True)

def net(X):
    return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])

def accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())

class Accumulator:
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]

probs = net(points[:4])
print(probs, probs.sum(1))
print("untrained accuracy", accuracy(net(points), labels) / len(labels))
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(points, labels), batch_size=16, shuffle=True)
for epoch in range(4):
    metric = Accumulator(3)
    for X, y in loader:
        l = cross_entropy(net(X), y)
        l.sum().backward()
        with torch.no_grad():
            for p in (W, b):
                p -= 0.1 * p.grad / X.shape[0]
                p.grad.zero_()
        metric.add(float(l.sum()), accuracy(net(X), y), y.numel())
    print(f"epoch {epoch + 1}: loss {metric[0] / metric[2]:.4f}, acc {metric[1] / metric[2]:.3f}")
"""

MLP_FROM_SCRATCH = CLUSTERS + """
from torch import nn

points, labels = clusters(30)
n_in, n_hidden, n_out = 2, 16, 3
W1 = nn.Parameter(torch.randn(n_in, n_hidden) * 0.5)
b1 = nn.Parameter(torch.zeros(n_hidden))
W2 = nn.Parameter(torch.randn(n_hidden, n_out) * 0.5)
b2 = nn.Parameter(torch.zeros(n_out))
params = [W1, b1, W2, b2]

def relu(X):
    a = torch.zeros_like(X)
    return torch.max(X, a)

def net(X):
    H = relu(X @ W1 + b1)
    return H @ W2 + b2

loss = nn.CrossEntropyLoss(reduction="none")
updater = torch.optim.SGD(params, lr=0.1)
for epoch in range(30):
    updater.zero_grad()
    l = loss(net(points), labels)
    l.mean().backward()
    updater.step()
    if epoch % 10 == 9:
        correct = (net(points).argmax(axis=1) == labels).sum()
        print(epoch, l.mean().item(), correct.item())
"""

DROPOUT_FROM_SCRATCH = CLUSTERS + """
from torch import nn

def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)

X = torch.arange(16, dtype=torch.float32).reshape((2, 8))
print(dropout_layer(X, 0.0), dropout_layer(X, 0.5), dropout_layer(X, 1.0), sep="\\n")

class Net(nn.Module):
    def __init__(self, n_in, n_out, n_h1, n_h2, is_training=True):
        super().__init__()
        self.training_mode = is_training
        self.lin1 = nn.Linear(n_in, n_h1)
        self.lin2 = nn.Linear(n_h1, n_h2)
        self.lin3 = nn.Linear(n_h2, n_out)
        self.relu = nn.ReLU()

    def forward(self, X):
        H1 = self.relu(self.lin1(X.reshape((-1, 2))))
        if self.training_mode:
            H1 = dropout_layer(H1, 0.2)
        H2 = self.relu(self.lin2(H1))
        if self.training_mode:
            H2 = dropout_layer(H2, 0.5)
        return self.lin3(H2)

points, labels = clusters(30)
net = Net(2, 3, 32, 16)
opt = torch.optim.SGD(net.parameters(), lr=0.2)
for step in range(20):
    opt.zero_grad()
    l = nn.functional.cross_entropy(net(points), labels)
    l.backward()
    opt.step()
    if step % 5 == 4:
        print(step, l.item())
concise = nn.Sequential(nn.Flatten(), nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.2),
                        nn.Linear(32, 3))
concise.train()
print(concise(points[:3]))
concise.eval()
print(concise(points[:3]))
"""

LENET_CLASSIC = """
import torch
from torch import nn

net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10))
X = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)
for layer in net:
    X = layer(X)
    print(layer.__class__.__name__, "output shape: \\t", X.shape)

def init_weights(m):
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)

net.apply(init_weights)
images = torch.tensor(train_images[:64], dtype=torch.float32).unsqueeze(1) / 255
labels = torch.tensor(train_labels[:64])
optimizer = torch.optim.SGD(net.parameters(), lr=0.9)
loss = nn.CrossEntropyLoss()
for step in range(6):
    optimizer.zero_grad()
    l = loss(net(images), labels)
    l.backward()
    optimizer.step()
    print(step, l.item())
"""

BATCH_NORM_FROM_SCRATCH = """
import torch
from torch import nn

def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    if not torch.is_grad_enabled():
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        assert len(X.shape) in (2, 4)
        if len(X.shape) == 2:
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        X_hat = (X - mean) / torch.sqrt(var + eps)
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    Y = gamma * X_hat + beta
    return Y, moving_mean.data, moving_var.data

class BatchNorm(nn.Module):
    def __init__(self, num_features, num_dims):
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.moving_mean = torch.zeros(shape)
        self.moving_var = torch.ones(shape)

    def forward(self, X):
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5, momentum=0.1)
        return Y

net = nn.Sequential(
    nn.Conv2d(1, 4, kernel_size=5), BatchNorm(4, num_dims=4), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(), nn.Linear(4 * 12 * 12, 16), BatchNorm(16, num_dims=2), nn.Sigmoid(),
    nn.Linear(16, 10))
builtin = nn.Sequential(
    nn.Conv2d(1, 4, kernel_size=5), nn.BatchNorm2d(4), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(), nn.Linear(4 * 12 * 12, 16), nn.BatchNorm1d(16), nn.Sigmoid(),
    nn.Linear(16, 10))
builtin.load_state_dict({**{k: v for k, v in builtin.state_dict().items()},
                         **{k: v for k, v in net.state_dict().items()
                            if k in builtin.state_dict()}})
images = torch.tensor(train_images[:48], dtype=torch.float32).unsqueeze(1) / 255
labels = torch.tensor(train_labels[:48])
for model in (net, builtin):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for step in range(4):
        opt.zero_grad()
        l = nn.functional.cross_entropy(model(images), labels)
        l.backward()
        opt.step()
        print(type(model[1]).__name__, step, l.item())
print(net[1].gamma.reshape((-1,)), net[1].beta.reshape((-1,)))
print(builtin[1].running_mean, builtin[1].num_batches_tracked)
with torch.no_grad():
    print(net(images[:2]).argmax(1), builtin.eval()(images[:2]).argmax(1))
"""

EXAMPLES_MNIST_SCRIPT = """
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(2304, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)

def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print("Train Epoch: {} [{}/{} ({:.0f}%)]\\tLoss: {:.6f}".format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))

def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print("Test: average loss {:.4f}, accuracy {}/{} ({:.0f}%)".format(
        test_loss, correct, len(test_loader.dataset), 100. * correct / len(test_loader.dataset)))

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--lr", type=float, default=1.0)
parser.add_argument("--gamma", type=float, default=0.7)
parser.add_argument("--log-interval", type=int, default=4)
args = parser.parse_args([])
torch.manual_seed(1)
use_accel = torch.accelerator.is_available()
device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
normalise = lambda a: ((torch.tensor(a, dtype=torch.float32) / 255 - 0.1307) / 0.3081).unsqueeze(1)
train_ds = torch.utils.data.TensorDataset(normalise(train_images), torch.tensor(train_labels))
test_ds = torch.utils.data.TensorDataset(normalise(test_images), torch.tensor(test_labels))
train_loader = torch.utils.data.DataLoader(train_ds, batch_size=args.batch_size, shuffle=True)
test_loader = torch.utils.data.DataLoader(test_ds, batch_size=100)
model = Net().to(device)
optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
for epoch in range(1, args.epochs + 1):
    train(args, model, device, train_loader, optimizer, epoch)
    test(model, device, test_loader)
    scheduler.step()
    print("lr now", scheduler.get_last_lr())
torch.save(model.state_dict(), "mnist_cnn.pt")
"""

SCALAR_AUTOGRAD_CHECKS = """
import torch

x = torch.Tensor([-3.0]).double()
x.requires_grad = True
z = 3 * x + 1 + x
q = z.relu() + z * x
h = (z * z).relu()
y = h + q + q * x
y.backward()
print(y.data.item(), x.grad.item())

a = torch.Tensor([-5.0]).double()
b = torch.Tensor([1.5]).double()
a.requires_grad = True
b.requires_grad = True
c = a + b
d = a * b + b ** 3
c = c + c + 1
c = c + 1 + c + (-a)
d = d + d * 2 + (b + a).relu()
d = d + 3 * d + (b - a).relu()
e = c - d
f = e ** 2
g = f / 2.0
g = g + 10.0 / f
g.backward()
print(g.data.item(), a.grad.item(), b.grad.item())
t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
u = (t.tanh() * 2 - t.exp() / 3).sigmoid()
u.backward()
print(u.item(), t.grad.item())
"""

CNN_WITH_BATCHNORM = """
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
num_epochs, num_classes, batch_size, learning_rate = 2, 10, 50, 0.001
train_ds = torch.utils.data.TensorDataset(
    torch.tensor(train_images, dtype=torch.float32).unsqueeze(1) / 255,
    torch.tensor(train_labels))
test_ds = torch.utils.data.TensorDataset(
    torch.tensor(test_images, dtype=torch.float32).unsqueeze(1) / 255,
    torch.tensor(test_labels))
train_loader = torch.utils.data.DataLoader(dataset=train_ds, batch_size=batch_size, shuffle=True)
test_loader = torch.utils.data.DataLoader(dataset=test_ds, batch_size=batch_size, shuffle=False)

class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super(ConvNet, self).__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(8, 16, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2))
        self.fc = nn.Linear(7 * 7 * 16, num_classes)

    def forward(self, x):
        out = self.layer2(self.layer1(x))
        return self.fc(out.reshape(out.size(0), -1))

model = ConvNet(num_classes).to(device)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
total_step = len(train_loader)
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        images, labels = images.to(device), labels.to(device)
        loss = criterion(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (i + 1) % 4 == 0:
            print("Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}".format(
                epoch + 1, num_epochs, i + 1, total_step, loss.item()))
model.eval()
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
    print("Test Accuracy: {} %".format(100 * correct / total))
torch.save(model.state_dict(), "model.ckpt")
"""

LOGISTIC_REGRESSION_SCRIPT = """
import torch
import torch.nn as nn

input_size, num_classes, num_epochs, batch_size, learning_rate = 28 * 28, 10, 2, 100, 0.001
train_ds = torch.utils.data.TensorDataset(
    torch.tensor(train_images, dtype=torch.float32) / 255, torch.tensor(train_labels))
train_loader = torch.utils.data.DataLoader(train_ds, batch_size=batch_size, shuffle=True)
model = nn.Linear(input_size, num_classes)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate * 100)
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        images = images.reshape(-1, input_size)
        loss = criterion(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (i + 1) % 3 == 0:
            print("Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}".format(
                epoch + 1, num_epochs, i + 1, len(train_loader), loss.item()))
with torch.no_grad():
    images = torch.tensor(test_images, dtype=torch.float32).reshape(-1, input_size) / 255
    _, predicted = torch.max(model(images).data, 1)
    correct = (predicted == torch.tensor(test_labels)).sum()
    print("Accuracy of the model: {} %".format(100 * correct / len(test_labels)))
"""

LEGACY_BOOK_API = """
import torch
from torch.autograd import Variable

inputs = torch.FloatTensor([[0.5, 1.0], [1.5, -0.5], [-1.0, 2.0], [0.0, 0.0]])
targets = torch.LongTensor([1, 0, 1, 0])
print(inputs.type(), targets.type(), isinstance(inputs, torch.FloatTensor))
print(isinstance(targets, torch.LongTensor), isinstance(inputs, torch.LongTensor))
weights = Variable(torch.randn(2, 2) * 0.1, requires_grad=True)
bias = Variable(torch.zeros(2), requires_grad=True)
for step in range(15):
    scores = inputs.mm(weights) + bias
    loss = torch.nn.functional.cross_entropy(scores, targets)
    loss.backward()
    weights.data -= 0.5 * weights.grad.data
    bias.data -= 0.5 * bias.grad.data
    weights.grad.data.zero_()
    bias.grad.data.zero_()
    if step % 5 == 4:
        print(step, loss.data.item())
guess = scores.max(1)[1]
print(guess.type(torch.LongTensor), guess.type(torch.FloatTensor))
print(torch.ByteTensor([1, 0, 1]), torch.BoolTensor([1, 0, 1]), torch.DoubleTensor([0.25]))
print((guess == targets).sum().type(torch.FloatTensor) / len(targets))
print(torch.IntTensor(2, 3).shape, torch.LongTensor([2.7, -2.7]))
"""

HELPER_MODULE_OPS = """
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
cuda_name = torch.device("cuda")
print(device, cuda_name, cuda_name.type, torch.device("cuda:1").index)
xs, ys = torch.meshgrid(torch.arange(3.0), torch.arange(2.0), indexing="xy")
grid = torch.vstack([xs.reshape(-1), ys.reshape(-1)]).T
print(grid)
print(torch.hstack([grid, grid.sum(dim=1, keepdim=True)]))
labels = torch.tensor([2, 0, 1, 2])
one_hot = torch.zeros(len(labels), 3).scatter_(1, labels.unsqueeze(1), 1.0)
print(one_hot)
counts = torch.zeros(3).scatter_add_(0, labels, torch.ones(4))
print(counts)
p = torch.tensor([0.0, 0.5, 1.0])
eps = torch.finfo(torch.float32).eps
print(eps, torch.log(p + eps), torch.iinfo(torch.int64).max)
x = torch.linspace(-1, 1, 5, requires_grad=True)
identity = torch.cosh(x) ** 2 - torch.sinh(x) ** 2
identity.sum().backward()
print(identity, x.grad)
A = torch.randn(2, 3, 4)
print((A @ A.mT).shape, torch.allclose(A.mT, A.transpose(-2, -1)))
print(f"loss {torch.tensor(0.125)}", "{}".format(torch.tensor(7)), f"{torch.tensor(3.14159):.2f}")
"""

ADAPTIVE_OPTIMIZERS = """
import torch
from torch import nn

X = torch.randn(64, 5)
true_w = torch.tensor([[1.0], [-2.0], [0.5], [0.0], [3.0]])
y = X @ true_w + 0.1 * torch.randn(64, 1)
start = nn.Linear(5, 1).state_dict()
for name, kwargs in [("Adadelta", {}), ("Adamax", {"lr": 0.02}), ("NAdam", {"lr": 0.02}),
                     ("RAdam", {"lr": 0.02}),
                     ("NAdam", {"lr": 0.02, "weight_decay": 0.01,
                                "decoupled_weight_decay": True})]:
    model = nn.Linear(5, 1)
    model.load_state_dict(start)
    opt = getattr(torch.optim, name)(model.parameters(), **kwargs)
    for step in range(25):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X), y)
        loss.backward()
        opt.step()
    print(name, loss.item(), sorted(opt.state_dict()["state"][0].keys()))
"""

WEIGHT_DECAY = """
import torch
from torch import nn

n_train, n_inputs = 20, 40
true_w, true_b = torch.ones((n_inputs, 1)) * 0.01, 0.05
X = torch.randn(n_train, n_inputs)
y = X @ true_w + true_b + torch.normal(0, 0.01, (n_train, 1))

def l2_penalty(w):
    return torch.sum(w.pow(2)) / 2

w = torch.normal(0, 1, size=(n_inputs, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for epoch in range(30):
    l = ((X @ w + b - y) ** 2 / 2).mean() + 3 * l2_penalty(w)
    l.backward()
    with torch.no_grad():
        for p in (w, b):
            p -= 0.01 * p.grad
            p.grad.zero_()
print("L2 norm of w:", float(l2_penalty(w)))
net = nn.Linear(n_inputs, 1)
for param in net.parameters():
    param.data.normal_()
trainer = torch.optim.SGD([{"params": net.weight, "weight_decay": 3},
                           {"params": net.bias}], lr=0.01)
for epoch in range(30):
    trainer.zero_grad()
    l = nn.MSELoss()(net(X), y)
    l.backward()
    trainer.step()
print("L2 norm of net.weight:", net.weight.norm().item(), trainer.param_groups[1]["weight_decay"])
"""

LAZY_LAYERS = """
import torch
from torch import nn

net = nn.Sequential(nn.LazyConv2d(4, kernel_size=3, padding=1), nn.LazyBatchNorm2d(),
                    nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.LazyLinear(16), nn.ReLU(),
                    nn.LazyLinear(3))
print(net)
print(net[5].weight)
X = torch.rand(2, 1, 8, 8)
net(X)
print(net)
print([(name, tuple(p.shape)) for name, p in net.named_parameters()])

def init_cnn(module):
    if type(module) == nn.Linear or type(module) == nn.Conv2d:
        nn.init.xavier_uniform_(module.weight)

net.apply(init_cnn)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
targets = torch.tensor([0, 2])
for step in range(5):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(net(X), targets)
    loss.backward()
    opt.step()
    print(step, loss.item())
"""

EVAL_LOOP_COUNTERS = CLUSTERS + """
from torch import nn

points, labels = clusters(20)
model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(points, labels), batch_size=16)
correct = 0
total = 0
seen_loss = 0
with torch.no_grad():
    for xb, yb in loader:
        out = model(xb)
        correct += (out.argmax(1) == yb).sum()
        total += yb.size(0)
        seen_loss += nn.functional.cross_entropy(out, yb, reduction="sum")
print("correct {} of {}, mean loss {:.4f}".format(correct, total, seen_loss / total))
print(type(correct).__name__, correct.dtype, f"{correct.item() / total:.3f}")
"""


def test_linear_regression_from_scratch(tmp_path):
    check_tutorial(LINEAR_REGRESSION_FROM_SCRATCH, tmp_path, names=("w", "b", "features"))


def test_softmax_regression_from_scratch(tmp_path):
    check_tutorial(SOFTMAX_REGRESSION_FROM_SCRATCH, tmp_path, names=("W", "b"))


def test_mlp_from_scratch(tmp_path):
    check_tutorial(MLP_FROM_SCRATCH, tmp_path, names=("W1", "b1", "W2", "b2"))


def test_dropout_from_scratch(tmp_path):
    check_tutorial(DROPOUT_FROM_SCRATCH, tmp_path, names=("net", "concise"))


def test_lenet_with_sigmoid_and_average_pooling(tmp_path, digits):
    t_out, *_ = check_tutorial(LENET_CLASSIC, tmp_path, names=("net",), env=digits, rtol=1e-3)
    assert "Linear output shape: \t torch.Size([1, 10])" in t_out


def test_batch_norm_from_scratch_and_builtin(tmp_path, digits):
    check_tutorial(
        BATCH_NORM_FROM_SCRATCH, tmp_path, names=("net", "builtin"), env=digits, rtol=1e-3,
        atol=1e-4,
    )


def test_examples_style_mnist_script_with_adadelta_and_steplr(tmp_path, digits):
    env = {k: v[:320] if k.startswith("train") else v[:200] for k, v in digits.items()}
    # Adadelta at lr=1 moves weights by whole units of its step: a ReLU unit sitting at zero
    # after float32 rounding flips, so the printed losses and accuracies are compared, not
    # every weight
    t_out, *_ = check_tutorial(
        EXAMPLES_MNIST_SCRIPT, tmp_path, env=env, rtol=1e-3, atol=1e-3, chaotic_from=6,
    )
    assert "lr now [0.7" in t_out and (tmp_path / "engine" / "mnist_cnn.pt").is_file()


def test_scalar_autograd_checks(tmp_path):
    t_out, *_ = check_tutorial(SCALAR_AUTOGRAD_CHECKS, tmp_path, names=("x", "a", "b"))
    assert t_out.count("\n") == 3


def test_cnn_with_batch_norm_and_adam(tmp_path, digits):
    # a convolution's bias in front of batch norm gets a gradient of rounding noise only,
    # which Adam scales up to full steps: the printed losses and accuracy are compared
    t_out, *_ = check_tutorial(CNN_WITH_BATCHNORM, tmp_path, env=digits, rtol=1e-3, atol=1e-4)
    assert "Test Accuracy" in t_out


def test_logistic_regression_script(tmp_path, digits):
    check_tutorial(LOGISTIC_REGRESSION_SCRIPT, tmp_path, names=("model",), env=digits)


def test_legacy_book_api(tmp_path):
    t_out, *_ = check_tutorial(LEGACY_BOOK_API, tmp_path, names=("weights", "bias"))
    assert t_out.startswith("torch.FloatTensor torch.LongTensor True")


def test_helper_module_ops(tmp_path):
    t_out, *_ = check_tutorial(HELPER_MODULE_OPS, tmp_path, names=("grid", "one_hot", "x"))
    assert t_out.startswith("cpu cuda cuda 1") and "loss 0.125 7 3.14" in t_out


def test_adaptive_optimizers(tmp_path):
    t_out, *_ = check_tutorial(ADAPTIVE_OPTIMIZERS, tmp_path, names=("model",))
    assert "'mu_product'" in t_out and "'acc_delta'" in t_out


def test_weight_decay_by_hand_and_by_parameter_group(tmp_path):
    check_tutorial(WEIGHT_DECAY, tmp_path, names=("w", "net"))


def test_lazy_layers(tmp_path):
    t_out, *_ = check_tutorial(LAZY_LAYERS, tmp_path, names=("net",))
    assert "LazyLinear(in_features=0, out_features=16, bias=True)" in t_out
    assert "<UninitializedParameter>" in t_out and "Linear(in_features=64" in t_out


def test_eval_loop_counters(tmp_path):
    t_out, *_ = check_tutorial(EVAL_LOOP_COUNTERS, tmp_path, names=("model",))
    assert "Tensor torch.int64" in t_out


def test_every_program_is_ours_and_distinct():
    programs = [v for k, v in globals().items() if k.isupper() and isinstance(v, str)]
    assert len(programs) >= 17 and len(set(programs)) == len(programs)
    assert np.all([("import torch" in p) for p in programs])
