// Package lakehouse commits a finished export as a snapshot of an Apache Iceberg table
// (apache/iceberg-go): it loads or creates the table in a catalog, evolves its schema when
// PostgreSQL added columns, and replaces the table's data with the export's Parquet files in
// one overwrite snapshot whose summary names the PostgreSQL snapshot, LSN, source table and
// request. The data files stay where the export wrote them; the catalog writes the table's
// metadata under the table's location. The runs of an incremental chain are committed by
// CommitChain: the snapshot run as an export, the change runs appended to a changelog table.
//
// The catalogs are the SQL catalog kept in a PostgreSQL database (by default the exported
// database itself, in a schema of its own, SchemaName) and the REST catalog (tested against
// Apache Iceberg's REST catalog server, package resttest).
package lakehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	iceio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // s3:// data and metadata files
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// CatalogName is the name the catalog rows carry (the SQL catalog's catalog_name column):
// readers open the catalog under this name (pyiceberg: SqlCatalog("pgparquet", ...)).
const CatalogName = "pgparquet"

// SchemaName is the PostgreSQL schema that holds the SQL catalog's tables (iceberg_tables,
// iceberg_namespace_properties); it is created when missing.
const SchemaName = "pgparquet_iceberg"

// DefaultCatalog is the catalog URI meaning the exported database's own SQL catalog.
const DefaultCatalog = "postgres"

// Config opens a catalog. URI says which:
//
//   - "postgres" (or empty): the SQL catalog in the exported database (Conn), schema
//     SchemaName;
//   - "postgres://…" or "postgresql://…": the SQL catalog in that database, schema
//     SchemaName;
//   - "rest+http://…" or "rest+https://…": the REST catalog at the URL after "rest+"
//     (a bearer token from Token, when set). The server places the tables it creates
//     (Warehouse, when set, is sent to it as the REST "warehouse", which it interprets).
type Config struct {
	URI string
	// Conn is the exported database, for URI "postgres".
	Conn *pgx.ConnConfig
	// Warehouse is where the SQL catalog puts tables created without a location:
	// <Warehouse>/<namespace>.db/<name> (an absolute URI: s3://bucket/prefix or file:///path).
	// A REST catalog gets it as its "warehouse" parameter, and places tables itself.
	Warehouse string
	// AWS, when set, is the configuration of the s3:// file IO (credentials, region,
	// endpoint): the export's own (s3store.Store.AWS), so that data and metadata are written
	// with the same identity. S3PathStyle addresses buckets in the URL path.
	AWS         *aws.Config
	S3PathStyle bool
	// Token is the REST catalog's bearer token (OAuth2), if it needs one.
	Token string
}

// Catalog is an open catalog. Close releases it.
type Catalog struct {
	cat   catalog.Catalog
	shown string // the URI without secrets, for messages and the result
	aws   *aws.Config
	props iceberg.Properties
	db    *sql.DB
}

// Open opens the catalog cfg names; for the SQL catalog it creates SchemaName and the
// catalog's tables when missing. Errors are one line without the password.
func Open(ctx context.Context, cfg Config) (*Catalog, error) {
	props := iceberg.Properties{}
	if cfg.Warehouse != "" {
		props["warehouse"] = cfg.Warehouse
	}
	if cfg.AWS != nil {
		props[iceio.S3Region] = cfg.AWS.Region
		props[iceio.S3ForceVirtualAddressing] = fmt.Sprint(!cfg.S3PathStyle)
		if cfg.AWS.BaseEndpoint != nil {
			props[iceio.S3EndpointURL] = *cfg.AWS.BaseEndpoint
		}
	}
	if err := CheckCatalog(cfg.URI); err != nil {
		return nil, err
	}
	c := &Catalog{aws: cfg.AWS, props: props}
	uri := cfg.URI
	switch {
	case uri == "" || uri == DefaultCatalog:
		if cfg.Conn == nil {
			return nil, errors.New("iceberg catalog postgres: no database to keep it in")
		}
		c.shown = DefaultCatalog
		if err := c.openSQL(ctx, cfg.Conn.Copy(), props); err != nil {
			return nil, err
		}
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		conn, err := pgx.ParseConfig(uri)
		if err != nil {
			return nil, fmt.Errorf("iceberg catalog: %s is not a PostgreSQL URL", redactURL(uri))
		}
		c.shown = redactURL(uri)
		if err := c.openSQL(ctx, conn, props); err != nil {
			return nil, err
		}
	case IsREST(uri):
		c.shown = redactURL(uri)
		var opts []rest.Option
		if cfg.Warehouse != "" {
			opts = append(opts, rest.WithWarehouseLocation(cfg.Warehouse))
		}
		if cfg.Token != "" {
			opts = append(opts, rest.WithOAuthToken(cfg.Token))
		}
		if cfg.AWS != nil {
			opts = append(opts, rest.WithAwsConfig(*cfg.AWS))
		}
		opts = append(opts, rest.WithAdditionalProps(props))
		cat, err := rest.NewCatalog(c.ctx(ctx), CatalogName, strings.TrimPrefix(uri, "rest+"), opts...)
		if err != nil {
			return nil, fmt.Errorf("iceberg catalog %s: %w", c.shown, err)
		}
		c.cat = cat
	default:
		return nil, fmt.Errorf("iceberg catalog %q: give postgres (the exported database), postgres://… or rest+http(s)://…", redactURL(uri))
	}
	return c, nil
}

// CheckCatalog checks that uri names a catalog Open takes (see Config), without connecting.
func CheckCatalog(uri string) error {
	for _, p := range []string{"postgres://", "postgresql://", "rest+http://", "rest+https://"} {
		if strings.HasPrefix(uri, p) {
			return nil
		}
	}
	if uri == "" || uri == DefaultCatalog {
		return nil
	}
	return fmt.Errorf("iceberg catalog %q: give postgres (the exported database), postgres://… or rest+http(s)://…", redactURL(uri))
}

// IsREST reports whether uri names a REST catalog (rest+http://… or rest+https://…).
func IsREST(uri string) bool {
	return strings.HasPrefix(uri, "rest+http://") || strings.HasPrefix(uri, "rest+https://")
}

// openSQL opens the SQL catalog in conn's database, in SchemaName.
func (c *Catalog) openSQL(ctx context.Context, conn *pgx.ConnConfig, props iceberg.Properties) error {
	if conn.RuntimeParams == nil {
		conn.RuntimeParams = map[string]string{}
	}
	conn.RuntimeParams["search_path"] = SchemaName
	c.db = stdlib.OpenDB(*conn)
	// Created only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even
	// when the schema exists, which a least-privilege role (the sidecar's) lacks.
	var exists bool
	if err := c.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)", SchemaName).Scan(&exists); err != nil {
		c.db.Close()
		return fmt.Errorf("iceberg catalog %s: look for schema %s: %w", c.shown, SchemaName, err)
	}
	if !exists {
		if _, err := c.db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+SchemaName); err != nil {
			c.db.Close()
			return fmt.Errorf("iceberg catalog %s: create schema %s (the role needs CREATE on the database, or the schema created for it): %w", c.shown, SchemaName, err)
		}
	}
	cat, err := sqlcat.NewCatalog(CatalogName, c.db, sqlcat.Postgres, props)
	if err != nil {
		c.db.Close()
		return fmt.Errorf("iceberg catalog %s: %w", c.shown, err)
	}
	c.cat = cat
	return nil
}

// String is the catalog's URI without secrets ("postgres" for the exported database).
func (c *Catalog) String() string { return c.shown }

// Close releases the catalog and its connections.
func (c *Catalog) Close() error {
	var err error
	if cl, ok := c.cat.(catalog.Closer); ok {
		err = cl.Close()
	}
	if c.db != nil {
		err = errors.Join(err, c.db.Close())
	}
	return err
}

// ctx carries the export's AWS configuration to iceberg-go's s3 file IO.
func (c *Catalog) ctx(ctx context.Context) context.Context {
	if c.aws == nil {
		return ctx
	}
	return utils.WithAwsConfig(ctx, c.aws)
}

// redactURL drops a URL's password (and query, which may hold one).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	u.RawQuery = ""
	return u.String()
}
