/** The schema in the database is newer than this Portcullis, or (with migrate: false) older. (Apart from the store: the CLI tells it without loading pg.) */
export class PgSchemaVersionError extends Error {
  override name = 'SchemaVersionError';
}
