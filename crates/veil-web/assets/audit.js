// Access-record page: the filters are a plain GET form and the table is
// rendered by the server with UTC times; this module shows each time in the
// user's locale and time zone, keeping the UTC time on hover.
import { formatTime } from "./common.js";

for (const el of document.querySelectorAll("#audit time[datetime]")) {
  const date = new Date(el.dateTime);
  if (Number.isNaN(date.getTime())) continue;
  el.title = `${el.dateTime} UTC`;
  el.textContent = formatTime(date);
}
