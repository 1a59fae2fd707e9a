"""What gets installed: weights, trained models, attribute packs, and their stores."""
