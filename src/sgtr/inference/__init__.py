"""Reading text for users: the ``Recognizer`` predictor, weights files and ONNX export."""
