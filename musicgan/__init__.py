"""A GAN that generates music as mel-spectrograms: data, models, training, evaluation."""
