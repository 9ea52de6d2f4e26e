"""``sgtr serve``: an HTTP API and one web page for reading word crops and photos (FastAPI, served by uvicorn).

``limits`` holds the settings that bound a request, ``body`` stops an oversized body as it arrives, ``uploads``
turns uploaded bytes into images or a 4xx error naming the problem, ``app`` builds the application (``POST /read``,
``GET /health``, ``GET /``, the OpenAPI page at ``/docs``) and ``page.html`` is the page itself, with no build step
and no external assets. Install with ``pip install 'sgtr[serve]'`` (photos also need ``sgtr[pretrained]``).
"""
