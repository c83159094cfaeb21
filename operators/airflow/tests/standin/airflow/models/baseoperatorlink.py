class BaseOperatorLink:
    operators = []

    @property
    def name(self):  # pragma: no cover - subclasses set it
        raise NotImplementedError
