"""The unit of work's in-memory twin: all staged writes apply, or (a check failed) none."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.core.unit_of_work import UnitOfWork

Check = Callable[[], BaseException | None]  # None: the condition holds; else what the commit raises


class FakeUnitOfWork(UnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self._staged: list[tuple[Check | None, Callable[[], None]]] = []
        self.commits = 0

    def stage(self, apply: Callable[[], None], *, check: Check | None = None, first: bool = False) -> None:
        """A write: `check()` runs at commit before anything applies (a DynamoDB condition)."""
        if self.committed:
            raise RuntimeError("this unit of work has been committed")
        entry = (check, apply)
        if first:
            self._staged.insert(0, entry)
        else:
            self._staged.append(entry)

    def add(self, *_: object, **__: object) -> None:
        raise NotImplementedError("an in-memory repository stages its writes; DynamoDB actions cannot apply here")

    def __len__(self) -> int:
        return len(self._staged)

    def commit(self) -> None:
        if self.committed:
            raise RuntimeError("this unit of work has been committed")
        for check, _ in self._staged:
            failure = check() if check is not None else None
            if failure is not None:
                raise failure
        for _, apply in self._staged:
            apply()
        self.committed = True
        self.commits += 1


def staged(uow: UnitOfWork) -> FakeUnitOfWork:
    """The fake behind `uow` (fake repositories are only ever given one)."""
    assert isinstance(uow, FakeUnitOfWork), "an in-memory repository needs the in-memory unit of work"
    return uow
