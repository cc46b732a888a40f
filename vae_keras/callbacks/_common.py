"""Argument checks shared by the callbacks."""

import numbers

from vae_keras.plotting._common import check_int


def _check_count(value, name, minimum=1, allow_none=False):
    return None if value is None and allow_none else check_int(value, name, minimum)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
