"""A numpy array that grows in place (capacity doubling), so appending batch after batch stays linear."""
from __future__ import annotations

import numpy as np


class GrowingArray:
    def __init__(self, dtype, row_shape: tuple[int, ...] = (), data: np.ndarray | None = None):
        self._buf = np.zeros((0, *row_shape), dtype) if data is None else np.asarray(data, dtype)
        self.n = len(self._buf)

    @property
    def view(self) -> np.ndarray:
        """The filled rows (a view: valid until the next append)."""
        return self._buf[:self.n]

    def append(self, rows: np.ndarray) -> None:
        need = self.n + len(rows)
        if need > len(self._buf):
            buf = np.empty((max(need, 2 * len(self._buf), 1024), *self._buf.shape[1:]), self._buf.dtype)
            buf[:self.n] = self.view
            self._buf = buf
        self._buf[self.n:need] = rows
        self.n = need

    def replace(self, data: np.ndarray) -> None:
        self._buf = np.array(data, self._buf.dtype)
        self.n = len(self._buf)

    def __len__(self) -> int:
        return self.n

    @property
    def nbytes(self) -> int:
        return int(self._buf.nbytes)
