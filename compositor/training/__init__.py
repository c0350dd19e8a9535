"""Training the project's own weights (the learned harmonizer's head); needs TensorFlow."""
