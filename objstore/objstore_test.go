package objstore_test

import (
	"testing"

	"github.com/pgparquet/pgparquet/objstore"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    objstore.Location
		wantErr string
	}{
		{in: "out", want: objstore.Location{Prefix: "out"}},
		{in: "/abs/dir/", want: objstore.Location{Prefix: "/abs/dir/"}},
		{in: "s3://bucket", want: objstore.Location{Scheme: "s3", Bucket: "bucket"}},
		{in: "s3://bucket/", want: objstore.Location{Scheme: "s3", Bucket: "bucket"}},
		{in: "s3://my.bucket-1/a/b/", want: objstore.Location{Scheme: "s3", Bucket: "my.bucket-1", Prefix: "a/b"}},
		{in: "S3://bucket/x", want: objstore.Location{Scheme: "s3", Bucket: "bucket", Prefix: "x"}},
		{in: "", wantErr: "output location is empty: give a local directory or s3://bucket/prefix"},
		{in: "gs://bucket/x", wantErr: `"gs://bucket/x": gs:// output is not supported; give a local directory or s3://bucket/prefix`},
		{in: "http://host/x", wantErr: `"http://host/x": http:// output is not supported; give a local directory or s3://bucket/prefix`},
		{in: "file:///tmp/x", wantErr: `"file:///tmp/x": file:// output is not supported; give a local directory or s3://bucket/prefix`},
		{in: "s3://Bucket/x", wantErr: `"s3://Bucket/x": "Bucket" is not a bucket name (3 to 63 lower-case letters, digits, dots or hyphens); give s3://bucket/prefix`},
		{in: "s3:///x", wantErr: `"s3:///x": "" is not a bucket name (3 to 63 lower-case letters, digits, dots or hyphens); give s3://bucket/prefix`},
		{in: "s3://bucket/a/../b", wantErr: `"s3://bucket/a/../b": key prefix "a/../b" is not a clean path (no empty, "." or ".." segments)`},
		{in: "s3://bucket/..", wantErr: `"s3://bucket/..": key prefix ".." is not a clean path (no empty, "." or ".." segments)`},
		{in: "s3://bucket/a//b", wantErr: `"s3://bucket/a//b": key prefix "a//b" is not a clean path (no empty, "." or ".." segments)`},
		{in: "s3://bucket/./a", wantErr: `"s3://bucket/./a": key prefix "./a" is not a clean path (no empty, "." or ".." segments)`},
		{in: "s3://bucket/x?versionId=1", wantErr: `"s3://bucket/x?versionId=1": an s3:// location takes no query or fragment; give s3://bucket/prefix`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := objstore.Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Parse(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestJoinKey(t *testing.T) {
	for _, tc := range []struct{ root, dir, want string }{
		{"", ".", ""}, {"", "a/b", "a/b"}, {"root", ".", "root"}, {"root", "a", "root/a"},
	} {
		if got := objstore.JoinKey(tc.root, tc.dir); got != tc.want {
			t.Errorf("JoinKey(%q, %q) = %q, want %q", tc.root, tc.dir, got, tc.want)
		}
	}
}
