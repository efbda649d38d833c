"""A program of our own that walks the LeNet walkthrough's API path ("Neural Networks" in the
60-minute blitz: define, inspect, run, read the graph, backward, update by hand and with SGD)
on the engine with only the imports changed: PyTorch's printed text and numbers for the same
weights and inputs."""

import contextlib
import io

import numpy as np
from engine_parity import torch as real_torch

TUTORIAL = """
class Net(nn.Module):
    # LeNet-5's shape for 32x32 inputs: two 5x5 convolutions, each followed by ReLU and a
    # 2x2 max pool, then three fully connected layers
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, image):
        maps = F.max_pool2d(F.relu(self.conv1(image)), (2, 2))
        maps = F.max_pool2d(F.relu(self.conv2(maps)), 2)
        flat = torch.flatten(maps, 1)
        hidden = F.relu(self.fc2(F.relu(self.fc1(flat))))
        return self.fc3(hidden)


net = Net()
print(net)
params = list(net.parameters())
print(len(params))
print(params[0].size())
input = torch.randn(1, 1, 32, 32)
out = net(input)
print(out)
net.zero_grad()
out.backward(torch.randn(1, 10))
output = net(input)
target = torch.randn(10).view(1, -1)
criterion = nn.MSELoss()
loss = criterion(output, target)
print(loss)
mse_node = loss.grad_fn
linear_node = mse_node.next_functions[0][0]
print(mse_node)
print(linear_node)
print(linear_node.next_functions[0][0])
net.zero_grad()
print("bias of conv1, gradient before:")
print(net.conv1.bias.grad)
loss.backward()
print("bias of conv1, gradient after:")
print(net.conv1.bias.grad)
step = 0.01
for weight in net.parameters():
    weight.data.sub_(weight.grad.data * step)
import torch.optim as optim

optimizer = optim.SGD(net.parameters(), lr=0.01)
optimizer.zero_grad()
output = net(input)
loss = criterion(output, target)
loss.backward()
optimizer.step()
"""

IMPORTS_TORCH = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
IMPORTS_ENGINE = (
    "import engine as torch\nimport engine.nn as nn\nimport engine.nn.functional as F\n"
)


def run(source):
    scope = {"__name__": "tutorial"}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(source, "tutorial", "exec"), scope)
    return scope, buf.getvalue()


def engine_source():
    # only the import lines change
    return IMPORTS_ENGINE + TUTORIAL.replace(
        "import torch.optim as optim", "import engine.optim as optim"
    )


def test_tutorial_runs_on_engine_and_prints_like_pytorch():
    import engine

    engine.manual_seed(0)
    scope, printed = run(engine_source())
    _, torch_printed = run(IMPORTS_TORCH + TUTORIAL)
    lines = printed.splitlines()
    torch_lines = torch_printed.splitlines()
    # print(net) is PyTorch's text, character for character
    net_text = "\n".join(lines[:7])
    assert net_text == "\n".join(torch_lines[:7])
    assert net_text == (
        "Net(\n"
        "  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))\n"
        "  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))\n"
        "  (fc1): Linear(in_features=400, out_features=120, bias=True)\n"
        "  (fc2): Linear(in_features=120, out_features=84, bias=True)\n"
        "  (fc3): Linear(in_features=84, out_features=10, bias=True)\n"
        ")"
    )
    assert lines[7] == "10"
    assert lines[8] == "engine.Size([6, 1, 5, 5])" and scope["params"][0].size() == (6, 1, 5, 5)
    # the printed tensors are exactly the tensors' reprs (their line counts vary with values)
    rest = "\n".join(lines[9:])
    out_repr = repr(scope["out"])
    assert rest.startswith(out_repr + "\n")
    assert out_repr.startswith("tensor([[") and out_repr.endswith("grad_fn=<AddmmBackward0>)")
    rest = rest[len(out_repr) + 1 :].splitlines()
    assert rest[0].startswith("tensor(") and rest[0].endswith("grad_fn=<MseLossBackward0>)")
    nodes = [ln.split(" object at 0x")[0] for ln in rest[1:4]]
    assert nodes == ["<MseLossBackward0", "<AddmmBackward0", "<AccumulateGrad"]
    torch_nodes = [ln for ln in torch_lines if " object at 0x" in ln]
    assert nodes == [ln.split(" object at 0x")[0] for ln in torch_nodes]
    assert rest[4:7] == [
        "bias of conv1, gradient before:",
        "None",
        "bias of conv1, gradient after:",
    ]
    assert "\n".join(rest[7:]).startswith("tensor([") and rest[-1].endswith("])")


def test_tutorial_gives_pytorchs_numbers_for_the_same_weights_and_inputs():
    import engine

    engine.manual_seed(0)
    scope, _ = run(engine_source())
    net, inp, target = scope["net"], scope["input"], scope["target"]

    # replay in PyTorch: same initial weights, same input and target, same steps
    engine.manual_seed(0)
    scope0, _ = run(IMPORTS_ENGINE + TUTORIAL.split("params = list")[0])
    start = {k: real_torch.tensor(v.numpy()) for k, v in scope0["net"].state_dict().items()}
    tscope, _ = run(IMPORTS_TORCH + TUTORIAL.split("net = Net()")[0])
    tnet = tscope["Net"]()
    tnet.load_state_dict(start)
    tin = real_torch.tensor(inp.numpy())
    ttarget = real_torch.tensor(target.numpy())
    crit = real_torch.nn.MSELoss()
    loss = crit(tnet(tin), ttarget)
    tnet.zero_grad()
    loss.backward()
    for f in tnet.parameters():
        f.data.sub_(f.grad.data * 0.01)
    opt = real_torch.optim.SGD(tnet.parameters(), lr=0.01)
    opt.zero_grad()
    tloss = crit(tnet(tin), ttarget)
    tloss.backward()
    opt.step()

    np.testing.assert_allclose(scope["loss"].item(), tloss.item(), rtol=1e-5)
    tparams = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name
        )
        np.testing.assert_allclose(
            p.detach().numpy(), tparams[name].detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=name
        )


def _graph_names(root):
    """Breadth-first names of the autograd graph, with each node's next_functions layout."""
    out, queue, seen = [], [root], set()
    while queue:
        node = queue.pop(0)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        nexts = tuple(None if f is None else type(f).__name__ for f, _ in node.next_functions)
        out.append((type(node).__name__, nexts))
        queue.extend(f for f, _ in node.next_functions)
    return out


def test_lenet_training_graph_has_pytorchs_nodes_and_edges():
    import engine

    source_part = TUTORIAL.split("net = Net()")[0]
    escope, _ = run(IMPORTS_ENGINE + source_part)
    tscope, _ = run(IMPORTS_TORCH + source_part)
    e_loss = engine.nn.functional.cross_entropy(
        escope["Net"]()(engine.randn(4, 1, 32, 32)), engine.tensor([1, 2, 3, 4])
    )
    t_loss = real_torch.nn.functional.cross_entropy(
        tscope["Net"]()(real_torch.randn(4, 1, 32, 32)), real_torch.tensor([1, 2, 3, 4])
    )
    names = _graph_names(e_loss.grad_fn)
    assert names == _graph_names(t_loss.grad_fn)
    assert ("ConvolutionBackward0", (None, "AccumulateGrad", "AccumulateGrad")) in names
    assert names[0] == ("NllLossBackward0", ("LogSoftmaxBackward0",))
