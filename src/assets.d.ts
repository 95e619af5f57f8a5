// SQL migrations are embedded in the build as text (see src/db/migrate.ts).
declare module "*.sql" {
  const text: string;
  export default text;
}
