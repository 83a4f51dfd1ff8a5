# parquet_files.py is put before readback.py and check_stats.py when the Go side runs them
# (they are fed to Python on stdin, so they cannot import each other): how both expand their
# command-line paths into files. No module docstring here: the script's own would not be one.

import os


def parquet_files(args, error):
    """Expands the command-line paths into an ordered list of files: an s3://bucket/key path is
    one object; a directory stands for every *.parquet file directly inside it (never
    _manifest.json), except dot-files (partial or temporary files of a writer, not part of the
    export). A missing path, or no file at all, raises error with a one-line message."""
    files = []
    for arg in args:
        if arg.startswith("s3://"):
            files.append(arg)
        elif os.path.isdir(arg):
            names = sorted(
                n
                for n in os.listdir(arg)
                if n.endswith(".parquet") and not n.startswith(".") and os.path.isfile(os.path.join(arg, n))
            )
            files.extend(os.path.join(arg, n) for n in names)
        elif os.path.isfile(arg):
            files.append(arg)
        else:
            raise error(f"{arg}: no such file or directory")
    if not files:
        raise error(f"no .parquet files in {' '.join(args)}")
    return files
