"""The per-kind checkers: each turns one kind of kernel object into a `CheckResult` and writes no file.

`cbs_export_lab.check.check` is the one dispatcher; the modules here share the unit/weights/data policy
(`units`) and the cell rules (`cells`).
"""
