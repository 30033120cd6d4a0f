// Pickers, enhanced (issue 15, CORE item 3): the GOV.UK autocomplete pattern over the
// plain searches of the move, merge and relationship pages. Without JavaScript the page's
// own search (a GET form) and radios work as they are; this script only adds to them.
//
// A picker is a search form marked `data-picker` followed by its choices form marked
// `data-picker-choices` (the relationships page has none until a search). As the person
// types, the script asks the same page for the same plain search (same URL, same
// `search` parameter, so the same service call and never more than the plain search
// shows) and reads the organisations' names and ids from the radios of the page it gets
// back. Choosing one puts that page's choices form in place, with the chosen organisation
// selected, so the page's own button sends it. No inline script or style, no eval: it
// loads with `defer` from /assets under the strict CSP.
(function () {
  'use strict';

  if (typeof window.accessibleAutocomplete !== 'function' || !window.fetch || !window.DOMParser) {
    return;
  }

  // Names become text in the menu: the component puts suggestions in as HTML.
  function escape(text) {
    return String(text)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;');
  }

  // The organisations (id, name) a page lists as radios in its choices form.
  function choicesOf(form) {
    var found = [];
    if (!form) {
      return found;
    }
    var radios = form.querySelectorAll('input[type="radio"]');
    for (var i = 0; i < radios.length; i++) {
      var label = form.querySelector('label[for="' + radios[i].id + '"]');
      if (label) {
        found.push({ id: radios[i].value, name: label.textContent.trim() });
      }
    }
    return found;
  }

  function enhance(searchForm) {
    var input = searchForm.querySelector('input[name="search"]');
    if (!input) {
      return;
    }
    var action = searchForm.getAttribute('action').split('#')[0];
    var latest = null; // the last page a search brought back
    var asked = 0;

    var holder = document.createElement('div');
    holder.className = 'tenure-picker';
    input.parentNode.insertBefore(holder, input);
    var describedBy = input.getAttribute('aria-describedby');
    var defaultValue = input.value;
    input.parentNode.removeChild(input);

    window.accessibleAutocomplete({
      element: holder,
      id: 'search',
      name: 'search',
      defaultValue: defaultValue,
      minLength: 2,
      showNoOptionsFound: true,
      confirmOnBlur: false,
      inputClasses: 'govuk-input',
      tNoResults: function () {
        return 'No organisation matches';
      },
      templates: {
        inputValue: function (r) {
          return r && typeof r === 'object' ? r.name : r || '';
        },
        suggestion: function (r) {
          return escape(r && typeof r === 'object' ? r.name : r || '');
        }
      },
      source: function (query, populate) {
        var mine = ++asked;
        var url = action + '?search=' + encodeURIComponent(query);
        fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
          .then(function (response) {
            return response.ok ? response.text() : '';
          })
          .then(function (html) {
            if (mine !== asked) {
              return;
            }
            latest = new DOMParser().parseFromString(html, 'text/html');
            populate(choicesOf(latest.querySelector('form[data-picker-choices]')));
          })
          .catch(function () {
            populate([]);
          });
      },
      onConfirm: function (chosen) {
        if (!chosen || typeof chosen !== 'object' || !latest) {
          return;
        }
        var fresh = latest.querySelector('form[data-picker-choices]');
        if (!fresh) {
          return;
        }
        fresh = document.importNode(fresh, true);
        var current = document.querySelector('form[data-picker-choices]');
        if (current) {
          current.parentNode.replaceChild(fresh, current);
        } else {
          searchForm.parentNode.insertBefore(fresh, searchForm.nextSibling);
        }
        var radios = fresh.querySelectorAll('input[type="radio"]');
        for (var i = 0; i < radios.length; i++) {
          radios[i].checked = radios[i].value === chosen.id;
        }
      }
    });

    var made = holder.querySelector('input');
    if (made && describedBy) {
      var own = made.getAttribute('aria-describedby');
      made.setAttribute('aria-describedby', own ? describedBy + ' ' + own : describedBy);
    }
  }

  var forms = document.querySelectorAll('form[data-picker]');
  for (var i = 0; i < forms.length; i++) {
    enhance(forms[i]);
  }
})();
