"""Settings of the synthetic renderer: output size, sources, and how often each effect is applied.

``SynthConfig.describe`` is the JSON-safe record stored in every output LMDB, so a resumed run can check that it
would continue with exactly the settings that started it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from sgtr.data.charset import Charset
from sgtr.synth.text import DEFAULT_MIX


@dataclass(frozen=True)
class Effects:
    """Probability (``p_*``) and strength of each appearance, geometry and degradation effect."""

    # geometry
    p_rotate: float = 0.5
    max_rotate_deg: float = 12.0
    p_steep_rotate: float = 0.05  # a few strongly rotated words, as in IC15's incidental text
    max_steep_rotate_deg: float = 35.0
    p_shear: float = 0.25
    max_shear: float = 0.35
    p_perspective: float = 0.3
    max_corner_jitter: float = 0.2  # of the text height
    p_arc: float = 0.15
    max_arc_deg: float = 150.0  # total bend of the word
    p_wave: float = 0.08
    max_wave_amplitude: float = 0.25  # em
    p_street_view: float = 0.15  # a sign turned away from the camera (pinhole perspective)
    max_yaw_deg: float = 60.0
    max_pitch_deg: float = 25.0
    p_keep_aspect: float = 0.25  # fixed-size output only
    # appearance
    p_natural_background: float = 0.5  # when background images are known
    p_real_colours: float = 0.6  # text and background colour from the clusters of real crops
    min_real_contrast: float = 0.12  # luminance difference a real-colour pair is pushed to at least
    p_bold: float = 0.2
    p_outline: float = 0.12
    p_shadow: float = 0.15
    p_gradient_text: float = 0.15
    p_distractor: float = 0.15  # a cut-off neighbouring text line at the top or bottom edge
    p_side_distractor: float = 0.2  # parts of the neighbouring words left and/or right of the text
    p_border: float = 0.1  # a sign's frame or an underline around the text
    p_extrude: float = 0.08  # a solid 3-D extrusion behind the letters
    min_contrast: float = 0.25  # luminance difference between text and background
    max_tracking: float = 0.15  # extra letter spacing, em
    # degradation
    p_blur: float = 0.3
    p_motion_blur: float = 0.12
    p_noise: float = 0.4
    p_jpeg: float = 0.3
    p_low_resolution: float = 0.2
    min_resolution: float = 0.3  # of the crop's size, before scaling back up
    p_occlusion: float = 0.08
    max_occluded_share: float = 0.4  # of any one character's mask pixels
    # text
    p_uniform_length: float = 0.15  # a length drawn uniformly from 1 to the charset's maximum, not from the words

    @classmethod
    def plain(cls) -> "Effects":
        """Straight, unrotated, undegraded text on plain backgrounds: the base case tests check geometry on."""
        return cls(**{name: 0.0 for name in cls.__dataclass_fields__ if name.startswith("p_")})


@dataclass(frozen=True)
class SynthConfig:
    charset: Charset
    seed: int = 0
    height: int = 32
    width: int = 128  # with keep_ratio: the largest width
    keep_ratio: bool = False  # width = ceil(height x the word's aspect ratio), from height // 2 up to width
    font_dirs: tuple[str, ...] = ()  # empty: the system font folders
    background_dirs: tuple[str, ...] = ()
    system_backgrounds: bool = False  # also the installed wallpaper packages' photographs
    words_file: str | None = None  # None: wordfreq's English list plus the system dictionary
    text_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    effects: Effects = field(default_factory=Effects)

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8:
            raise ValueError(f"output size {self.height}x{self.width} is too small (at least 8x8)")

    def with_effects(self, effects: Effects) -> "SynthConfig":
        return replace(self, effects=effects)

    def describe(self) -> dict:
        return {"charset": self.charset.to_config(), "seed": self.seed, "height": self.height, "width": self.width,
                "keep_ratio": self.keep_ratio,
                "font_dirs": list(self.font_dirs), "background_dirs": list(self.background_dirs),
                "system_backgrounds": self.system_backgrounds,
                "words_file": self.words_file, "text_mix": dict(sorted(self.text_mix.items())),
                "effects": asdict(self.effects)}
