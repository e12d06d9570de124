"""The network and its trainers: TensorFlow is imported only inside their functions."""

# The network's Keras layer registers itself when Keras is first loaded (a cheap hook,
# no TensorFlow here): imported with the package, so every model loader has it.
from imbalance.model import definition  # noqa: F401
