"""Errors the embed package raises; callers map them to their own messages."""


class EmbedError(Exception):
    """Base class for errors raised by the embed package."""


class ImageDecodeError(EmbedError):
    """An image could not be read or decoded; the message says why, for the user."""


class ModelUnavailableError(EmbedError):
    """Model weights or config could not be found or fetched; the message says what to do."""


class ModelSpecError(EmbedError):
    """A model specification string is malformed or names an unknown model."""
