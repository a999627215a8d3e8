"""``nn`` and ``optim`` against torch: the same model, the same starting weights (torch's, copied
in), the same data and the same steps must give the same losses, gradients and weights; the
modules, parameters and optimizers print as torch's do, and misuses raise torch's errors."""

import warnings

import numpy as np
import pytest
import strategies as s
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

few = settings(max_examples=8, deadline=None)
STEPS = 5


def model(lib, activation, bias):
    return lib.nn.Sequential(lib.nn.Linear(3, 4), getattr(lib.nn, activation)(), lib.nn.Linear(4, 2, bias=bias))


def twins(engine, activation="Tanh", bias=True):
    """A torch model and the engine's, holding the same weights (torch's random start, copied)."""
    theirs, ours = model(torch, activation, bias), model(engine, activation, bias)
    ours.load_state_dict({name: engine.tensor(p.detach().numpy().copy()) for name, p in theirs.state_dict().items()})
    return theirs, ours


def train(lib, net, make_optimizer, batches, closure_style=False):
    """Losses and, after each step, every weight."""
    optimizer = make_optimizer(lib, net.parameters())
    losses, weights = [], []
    for x, y in batches:
        optimizer.zero_grad()
        loss = lib.nn.functional.mse_loss(net(lib.tensor(x)), lib.tensor(y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        weights.append([p.detach().numpy().copy() for p in net.parameters()])
    return losses, weights


OPTIMIZERS = {
    "Adam": lambda lib, params: lib.optim.Adam(params, lr=0.01),
    "Adam amsgrad, decay": lambda lib, params: lib.optim.Adam(params, lr=0.02, betas=(0.8, 0.99), amsgrad=True,
                                                              weight_decay=0.1),
    "AdamW-style": lambda lib, params: lib.optim.Adam(params, lr=0.02, weight_decay=0.1,
                                                      decoupled_weight_decay=True),
    "Adam maximize, eps": lambda lib, params: lib.optim.Adam(params, lr=0.001, eps=1e-3, maximize=True),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@few
@given(data=st.data(), activation=st.sampled_from(["Tanh", "ReLU", "Sigmoid"]), bias=st.booleans())
def test_training_follows_torch_step_for_step(reference, name, data, activation, bias):
    batch = data.draw(st.integers(1, 5), label="batch")
    batches = [(data.draw(s.arrays((batch, 3)), label="x"), data.draw(s.arrays((batch, 2)), label="y"))
               for _ in range(STEPS)]
    theirs, ours = twins(reference, activation, bias)
    their_losses, their_weights = train(torch, theirs, OPTIMIZERS[name], batches)
    our_losses, our_weights = train(reference, ours, OPTIMIZERS[name], batches)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-4, atol=1e-6)
    for step, (mine, torchs) in enumerate(zip(our_weights, their_weights)):
        for i, (a, b) in enumerate(zip(mine, torchs)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"parameter {i} after step {step + 1}")


@few
@given(data=st.data(), shape=st.sampled_from([(3,), (2, 3), (2, 2, 3)]), bias=st.booleans())
def test_linear_values_gradients_and_node_names(reference, data, shape, bias):
    """A 2-D batch goes through one AddmmBackward0 node (bias, input, weight.T), as in torch; other
    shapes are viewed as a batch and back."""
    x = data.draw(s.arrays(shape), label="x")
    g = data.draw(s.arrays(shape[:-1] + (4,)), label="upstream gradient")
    results = []
    for lib in (torch, reference):
        layer = lib.nn.Linear(3, 4, bias=bias)
        if lib is reference:
            layer.load_state_dict({k: lib.tensor(v.numpy()) for k, v in results[0][0].items()})
        inputs = lib.tensor(x, requires_grad=True)
        out = layer(inputs)
        out.backward(lib.tensor(g))
        node = out.grad_fn
        names = [type(node).__name__] + [type(n).__name__ for n, _ in node.next_functions if n is not None]
        state = {k: v.detach().clone() for k, v in layer.state_dict().items()}
        results.append((state, out.detach().numpy(), names, [t.grad.numpy() for t in (inputs, *layer.parameters())]))
    (_, their_out, their_names, their_grads), (_, our_out, our_names, our_grads) = results
    np.testing.assert_allclose(our_out, their_out, rtol=1e-5, atol=1e-6)
    if len(shape) == 2:  # (the view around it for other shapes is named after the reshape it undoes)
        assert our_names == their_names
    for mine, torchs in zip(our_grads, their_grads):
        np.testing.assert_allclose(mine, torchs, rtol=1e-4, atol=1e-5)


def nested_net(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU())
            self.head = lib.nn.Linear(3, 1, bias=False)
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.note = "not a parameter"

        def forward(self, x):
            return self.head(self.body(x)) * self.scale
    return Net()


def test_parameters_names_and_printing(reference):
    theirs, ours = nested_net(torch), nested_net(reference)
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert all(p.requires_grad and p.is_leaf for p in ours.parameters())
    assert repr(ours.scale) == repr(theirs.scale)
    assert len(ours.body) == len(theirs.body) and type(ours.body[1]).__name__ == "ReLU"
    assert repr(reference.optim.Adam(ours.parameters())) == repr(torch.optim.Adam(theirs.parameters()))
    assert ours.training and not ours.eval().body[0].training
    for net in (ours, theirs):  # a parameter replaced by another, or removed
        net.head.weight, net.body[0].bias = type(net.scale)(net.head.weight.detach() * 2), None
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_zero_grad_sets_none_or_zeros_and_steps_count_as_versions(reference):
    seen = []
    for lib in (torch, reference):
        layer = lib.nn.Linear(2, 2)
        optimizer = lib.optim.Adam(layer.parameters(), lr=0.1)
        layer(lib.ones(1, 2)).sum().backward()
        before = layer.weight._version
        optimizer.step()
        after = layer.weight._version
        optimizer.zero_grad(set_to_none=False)
        zeros = layer.weight.grad.tolist()
        layer.zero_grad()
        seen.append((after - before, zeros, layer.weight.grad, layer.bias.grad))
    assert seen[1] == seen[0]


@pytest.mark.parametrize("misuse", [
    "lib.optim.Adam([], lr=0.1)", "lib.optim.Adam(layer.parameters(), weight_decay=-1)",
    "lib.optim.Adam(lib.ones(2), lr=0.1)",
    "lib.optim.Adam(layer.parameters(), lr=-1)", "lib.optim.Adam(layer.parameters(), betas=(1.0, 0.9))",
    "lib.optim.Adam(layer.parameters(), betas=(0.9, -0.1))", "lib.optim.Adam(layer.parameters(), eps=-1)",
    "lib.nn.Linear(2, 3)(lib.ones(3))", "lib.nn.Linear(2, 3)(lib.ones(4, 3))", "lib.nn.Module()(lib.ones(1))",
    "layer.missing", "setattr(layer, 'weight', lib.ones(3, 2))", "setattr(layer, 'bias', 1.5)",
])
def test_misuses_raise_torchs_errors(reference, misuse):
    found = []
    for lib in (torch, reference):
        layer = lib.nn.Linear(2, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                eval(misuse, {"lib": lib, "layer": layer})
                found.append(None)
            except Exception as error:  # noqa: BLE001 - the error is what is compared
                found.append((type(error).__name__, str(error)))
    assert found[0] is not None and found[1] == found[0]


def early_assignment(lib):
    class Early(lib.nn.Module):
        def __init__(self):
            self.layer = lib.nn.Linear(1, 1)
    return Early


def test_assigning_a_parameter_before_init_is_refused(reference):
    for lib in (torch, reference):
        with pytest.raises(AttributeError, match=r"cannot assign module before Module.__init__\(\) call"):
            early_assignment(lib)()


def test_no_sgd_to_hand_over_notebook_07s_answer(reference):
    """``torch.optim.SGD``'s step is exercise sgd_step: the engine says so instead of doing it."""
    assert not hasattr(reference.optim, "SGD")
    with pytest.raises(AttributeError, match="sgd_step"):
        reference.optim.SGD(reference.nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.raises(AttributeError, match="has no attribute 'RMSprop'"):
        reference.optim.RMSprop(reference.nn.Linear(2, 1).parameters())
