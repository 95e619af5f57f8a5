// drizzle-kit reads this to generate the PostgreSQL migrations from src/pg/schema.ts (generate only; they are
// embedded in the build and applied at start-up by src/pg/migrate.ts).
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/pg/schema.ts",
  out: "./drizzle/pg",
});
