"""Core: errors, project paths, atomic files and output sets, progress, the isolated worker pool
and the error boundary. Imports nothing else from vidlab."""
