"""vidlab: a data-versioned experiment repository for annotated video datasets."""

from vidlab.core.version import VERSION as __version__

__all__ = ["VideoDatasetManager", "__version__"]


def __getattr__(name: str):
    # Lazy, so `import vidlab` (and the CLI) stays light: the manager pulls in pandas and PyAV.
    if name == "VideoDatasetManager":
        from vidlab.api import VideoDatasetManager

        return VideoDatasetManager
    raise AttributeError(f"module 'vidlab' has no attribute {name!r}")
