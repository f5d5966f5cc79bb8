/** The server's JSON shapes (addons/web/API.md): declared once, in addons/web/api-types.ts, for both sides. */
export type * from "../../api-types.ts";
