"""Train a small neural network with thalweg's engine and watch the loss fall.

Run: ``python examples/xor_from_scratch.py``.

The data is the XOR pattern from TensorFlow Playground: points in the plane whose label
is 1 when x1 and x2 have the same sign. No straight line separates the classes, so a
linear model is stuck near 50% accuracy; a network with one hidden layer learns it.
"""

import numpy as np

import thalweg
from thalweg import nn, optim
from thalweg.losses import binary_cross_entropy_with_logits

rng = np.random.default_rng(0)
X = rng.uniform(-5, 5, size=(400, 2)).astype(np.float32)
y = (X[:, 0] * X[:, 1] > 0).astype(np.float32)

thalweg.manual_seed(0)
model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
opt = optim.Adam(model.parameters(), lr=0.05)
inputs = thalweg.tensor(X / 5)  # scale features to about [-1, 1]

print(f"model: {model.num_parameters()} parameters\n{model}\n")
for epoch in range(1, 201):
    logits = model(inputs).reshape(-1)
    loss = binary_cross_entropy_with_logits(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if epoch == 1 or epoch % 20 == 0:
        accuracy = float(((logits.data > 0) == (y == 1)).mean())
        print(f"epoch {epoch:4d}   loss {loss.item():.4f}   accuracy {accuracy:6.1%}")
