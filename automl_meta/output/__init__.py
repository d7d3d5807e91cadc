"""What a fit leaves: the model file and its summary, predicting with it, the HTML report."""
