// On a phone the navbar folds away behind its toggle, and the bell's unread count with it: the toggle
// carries the same count, so a customer sees a new notice without opening the menu.
(function () {
  var count = document.querySelector('.notice-bell .notice-count');
  var toggle = document.querySelector('.navbar-toggle');
  if (!count || !toggle) { return; }
  var badge = document.createElement('span');
  badge.className = 'badge notice-count-toggle';
  badge.textContent = count.textContent;
  badge.setAttribute('aria-hidden', 'true');  // the bell's own text says it to a screen reader
  toggle.appendChild(badge);
})();
