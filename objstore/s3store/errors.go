package s3store

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Error is a failed request: its message is one line saying what was being done, what is
// wrong and, for the common mistakes, what would work; it never holds a secret. It wraps the
// SDK's error (for errors.As), whose own text is not shown.
type Error struct {
	msg string
	err error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// explain turns the SDK's error of doing op on key into an *Error.
func (st *Store) explain(op, key string, err error) error {
	where := "s3://" + st.cfg.Bucket + "/" + key
	var msg string
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae):
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			msg = fmt.Sprintf("%s %s: bucket %q does not exist; create it, or check the bucket name and the endpoint (AWS_ENDPOINT_URL) or region (AWS_REGION)", op, where, st.cfg.Bucket)
		case "AccessDenied", "AllAccessDisabled", "Forbidden":
			msg = fmt.Sprintf("%s %s: access denied; the credentials need s3:ListBucket, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload on the bucket and prefix", op, where)
		case "InvalidAccessKeyId":
			msg = fmt.Sprintf("%s %s: the server does not know the access key ID; check AWS_ACCESS_KEY_ID, AWS_PROFILE or the shared credentials file", op, where)
		case "SignatureDoesNotMatch":
			msg = fmt.Sprintf("%s %s: the request signature does not match; check the secret access key (AWS_SECRET_ACCESS_KEY) that goes with the access key ID", op, where)
		case "ExpiredToken", "InvalidToken", "TokenRefreshRequired":
			msg = fmt.Sprintf("%s %s: the session token is expired or invalid; refresh AWS_SESSION_TOKEN or the profile's credentials", op, where)
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			msg = fmt.Sprintf("%s %s: the bucket is in another region; set AWS_REGION to the bucket's", op, where)
		default:
			msg = fmt.Sprintf("%s %s: %s: %s", op, where, ae.ErrorCode(), ae.ErrorMessage())
		}
	case strings.Contains(err.Error(), "get credentials") || strings.Contains(err.Error(), "get identity"):
		msg = fmt.Sprintf("%s %s: no usable AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN)", op, where)
	case isTimeout(err):
		msg = fmt.Sprintf("%s %s: the server did not answer within %s, %d times; check AWS_ENDPOINT_URL and the server", op, where, st.cfg.ResponseTimeout, st.cfg.MaxAttempts)
	case isConnection(err):
		msg = fmt.Sprintf("%s %s: the server cannot be reached (%s); check AWS_ENDPOINT_URL and the network", op, where, lastCause(err))
	default:
		msg = fmt.Sprintf("%s %s: %s", op, where, err.Error())
	}
	return &Error{msg: st.redact(oneLine(msg)), err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isConnection(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns)
}

// lastCause is the innermost message of err's chain (a refused connection, a reset).
func lastCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// transient reports whether err may go away by itself: the server is unreachable or busy
// (5xx, throttling), as the SDK's retryer judges.
func transient(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// redact removes the credentials' secrets from msg.
func (st *Store) redact(msg string) string {
	for _, s := range st.secrets {
		if len(s) >= 8 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// oneLine folds msg into one line.
func oneLine(msg string) string {
	return strings.Join(strings.Fields(msg), " ")
}
