"""Keras-style `get` / `serialize` / `deserialize` over a table of named classes, shared by
`likelihoods` and `priors` (the same three functions, each module with its own table)."""

import keras


class Registry:
    """The `get`/`serialize`/`deserialize` of the subclasses of `base` named in `objects`.

    Args:
        kind: What the objects are, in error messages (`"likelihood"`, `"prior"`).
        base: Their base class (`get` passes its instances through).
        objects: `{name: class}`, the names `get` takes.
        default: The class `get(None)` builds.
    """

    def __init__(self, kind: str, base: type, objects: dict, default: type):
        self.kind, self.base, self.objects, self.default = kind, base, objects, default

    def get(self, identifier=None, **kwargs):
        if identifier is None:
            return self.default(**kwargs)
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if not isinstance(identifier, str) or identifier not in self.objects:
            raise ValueError(
                f"Unknown {self.kind} {identifier!r}. Use one of {tuple(self.objects)}, a "
                f"config dict or a `vae_keras.{self.kind}s.{self.base.__name__}` instance. "
                f"Received: {self.kind}={identifier!r}"
            )
        return self.objects[identifier](**kwargs)

    def serialize(self, obj) -> dict:
        return keras.saving.serialize_keras_object(obj)

    def deserialize(self, config: dict):
        if isinstance(config, dict) and config.get("class_name") in self.objects:
            config = {**config, "class_name": self.objects[config["class_name"]].__name__}
        custom = {cls.__name__: cls for cls in self.objects.values()}
        obj = keras.saving.deserialize_keras_object(config, custom_objects=custom)
        if not isinstance(obj, self.base):
            raise ValueError(
                f"Expected the config of a vae_keras {self.kind}. Received: config={config!r}"
            )
        return obj
