"""Recognizers as plain ``nn.Module``s (no training stack), the layers they share and the output contract."""
