# parquet_files.py is put before readback.py and check_stats.py when the Go side runs them
# (they are fed to Python on stdin, so they cannot import each other): how both expand their
# command-line paths into files, and how they reach S3 objects. No module docstring here: the
# script's own would not be one.

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


def s3_filesystem():
    """pyarrow's S3 filesystem with the endpoint, region and credentials of AWS_ENDPOINT_URL,
    AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (path-style addressing)."""
    import pyarrow.fs as pafs

    scheme, _, host = os.environ["AWS_ENDPOINT_URL"].partition("://")
    return pafs.S3FileSystem(
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_override=host,
        scheme=scheme,
        force_virtual_addressing=False,
    )
