// The demo's scan clock. Timers of a hidden tab are throttled (to once a
// second, and to once a minute after five minutes hidden), which would let
// the partner's heartbeat timeout lapse while the other tab is in front; a
// dedicated worker's timers are not, and its messages reach the page
// promptly. The page posts an interval in ms (0 stops) and gets a tick.
'use strict';
let timer = 0;
onmessage = ({ data }) => {
  clearInterval(timer);
  timer = data > 0 ? setInterval(() => postMessage('tick'), data) : 0;
};
