from tests.make_project import MakeProject, make_project

__all__ = ["MakeProject", "make_project"]
