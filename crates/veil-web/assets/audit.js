// Access-record page: the filters are a plain GET form and the table is
// rendered by the server; this module only wires up the logout button.
import "./common.js";

