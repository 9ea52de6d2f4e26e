"""Reading text for users: the ``Recognizer`` (``sgtr.Recognizer``), model files, ONNX export and explanation figures.

Inside, each module builds on the ones before it: ``spec`` (what a model file describes) → ``weights`` and
``onnx_export`` (the file formats) → ``runtimes`` (PyTorch, ONNX Runtime) → ``loading`` (any file → a runtime) →
``preprocess`` and ``lexicon`` → ``predictor`` (``Recognizer``) → ``stream`` (many files, flat memory) and ``explain``.
``sgtr read``, ``sgtr export`` and ``sgtr explain`` (``sgtr.cli``) sit on top. Nothing here imports the training
engine: training checkpoints are read with ``sgtr.serialization.load_safe``.
"""
