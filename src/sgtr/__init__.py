"""sgtr: scene text recognition with graph-based textual reasoning (S-GTR), and the tools around it.

Layers, imported one way only: ``cli`` → ``engine`` / ``inference`` / ``evaluation`` → ``models`` → ``layers``, with
``data`` (and ``synth``) at the ground.
"""

__version__ = "0.1.0"
