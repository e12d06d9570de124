"""The network and its trainers: TensorFlow is imported only inside their functions."""
