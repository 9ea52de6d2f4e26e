"""Pretrained feature extractors that recognizers can stand on: ``ppocr``, PP-OCRv6-small's convolutional stages, and
``ppocr_import``, which maps the released ONNX file's weights onto them."""
