/* The line editor of "Ny bestilling", "Nytt tilbud" and the standing-order form (workflow/_lines.html).
 *
 * Each line has a search-as-you-type product field (select2 AJAX on /produktsok/) and width, depth and
 * variant fields that open when the chosen product has them. While the user types, the whole form is
 * posted (debounced) to the form's pricing route, which checks and prices the lines with the server's
 * own rules (app/domain/pricing.py, catalogue.check_lines): this script shows what it answers, the line
 * totals, the order totals with VAT, what is left of the budgets, and the server's messages next to
 * their fields. It computes no price and checks no rule itself; the submit checks and prices again.
 *
 * Its settings come from the page (#order-form-config data-config): URLs, the form kind, texts.
 */
(function ($) {
  'use strict';

  // select2 4.0 with jQuery 3.6 no longer focuses the search field when the dropdown opens, so what
  // the user types goes nowhere: put the focus there ourselves.
  $(document).on('select2:open', function () {
    var field = document.querySelector('.select2-container--open .select2-search__field');
    if (field) { field.focus(); }
  });

  $(function () {
    var holder = document.getElementById('order-form-config');
    var table = $('#order-lines');
    if (!holder || !table.length) { return; }
    var config = JSON.parse(holder.getAttribute('data-config'));
    var texts = config.texts;
    var form = table.closest('form');
    var lastAnswer = null;

    // --- a product's configuration opens (or closes) the line's fields ------------------------

    function configure(row, product) {
      var ranges = {width: [product && product.min_width, product && product.max_width],
                    depth: [product && product.min_depth, product && product.max_depth]};
      $.each(ranges, function (field, r) {
        var input = row.find('.line-' + field);
        var on = !!(r[0] || r[1]);
        input.prop('disabled', !on);
        if (on) { input.attr('min', r[0]); input.attr('max', r[1]); input.attr('placeholder', r[0] + '–' + r[1]); }
        else { input.val(''); input.attr('placeholder', ''); }
      });
      $.each({fabric: product && product.fabrics, colour: product && product.colours}, function (field, values) {
        var select = row.find('.line-' + field);
        var current = select.val() || select.data('current');
        select.empty().append('<option value=""></option>');
        (values || []).forEach(function (v) { select.append($('<option>').val(v).text(v).prop('selected', v === current)); });
        select.prop('disabled', !(values && values.length));
      });
      // A seller's price field shows the list price it replaces.
      var price = row.find('.line-unit_price');
      price.attr('placeholder', product && product.unit_price ? String(product.unit_price).replace('.', ',') : texts.list_price);
      price.attr('title', texts.empty_is_list_price);
    }

    // A search result: the product and its unit price (ex. VAT), as the server formats it.
    function productResult(item) {
      if (item.loading || !item.id) { return item.text; }
      var el = $('<span class="product-result"></span>');
      el.append($('<span class="product-result-name"></span>').text(item.text));
      if (item.price_text) { el.append($('<span class="product-result-price"></span>').text(item.price_text)); }
      return el;
    }

    function initRow(row) {
      var select = row.find('.product-select');
      select.select2({
        theme: 'bootstrap', width: '100%', allowClear: true, minimumInputLength: 1, placeholder: select.data('placeholder'),
        ajax: {url: config.search_url, dataType: 'json', delay: 200, data: function (params) { return {q: params.term}; }},
        templateResult: productResult,
        language: {inputTooShort: function () { return texts.input_too_short; },
                   noResults: function () { return texts.no_results; },
                   searching: function () { return texts.searching; },
                   errorLoading: function () { return texts.error_loading; }}
      });
      select.on('select2:select', function (e) {
        configure(row, e.params.data);
        touch(row.find('td[data-field=product_id]'));
        var qty = row.find('.line-quantity');
        if (!qty.val()) { qty.val(1); }
        // On to the quantity, as a person filling the line would (select2 gives its own field the
        // focus back when it closes; this comes after that).
        setTimeout(function () { qty.trigger('focus').trigger('select'); }, 0);
        schedule();
      });
      select.on('select2:clear', function () { configure(row, null); schedule(); });
      // A letter typed on the closed product field opens the search with that letter in it.
      row.find('.select2-selection').on('keydown', function (e) {
        if (e.key && e.key.length === 1 && e.key !== ' ' && !e.ctrlKey && !e.metaKey && !e.altKey) {
          e.preventDefault();
          select.select2('open');
          var field = $('.select2-container--open .select2-search__field');
          field.val(e.key).trigger('input');
        }
      });
      var initial = select.find('option:selected').data('product');
      if (initial) { configure(row, initial); }
      // A field the server marked (after a submit) keeps its message until the answer changes.
      row.find('td.has-error').each(function () { touch($(this)); });
    }

    table.find('.order-line').each(function () { initRow($(this)); });

    $('#add-line').on('click', function () {
      var body = table.find('tbody');
      var next = body.find('.order-line').length;
      if (next >= config.max_lines) { $(this).prop('disabled', true); return; }
      var row = $($('#order-line-template').html().replace(/__i__/g, next));
      row.find('.line-no').text(next + 1);
      body.append(row);
      initRow(row);
      row.find('.product-select').select2('open');  // the keyboard user goes on typing the product
      if (next + 1 >= config.max_lines) { $(this).prop('disabled', true); }
    });

    // --- Enter in a field moves on; only the submit button sends the form --------------------

    form.on('keydown', 'input', function (e) {
      if (e.key !== 'Enter' || this.type === 'submit' || this.type === 'button') { return; }
      e.preventDefault();
      var fields = form.find('input, select, textarea, button, .select2-selection').filter(function () {
        return this.tabIndex >= 0 && !this.disabled && this.type !== 'hidden' && $(this).is(':visible');
      });
      var at = fields.index(this);
      if (at >= 0 && at + 1 < fields.length) { fields.eq(at + 1).trigger('focus'); }
    });

    // --- the server's prices and messages ------------------------------------------------------

    function touch(cell) { cell.attr('data-touched', '1'); }

    // A message is shown next to a field the user has been in (or that has a value): a product's
    // empty colour field is not an error before the user got there.
    function shown(cell) {
      if (cell.attr('data-touched')) { return true; }
      var field = cell.find('input, select').first();
      return !!(field.length && field.val());
    }

    function showErrors(row, errors) {
      row.find('td[data-field]').each(function () {
        var cell = $(this);
        var message = errors[cell.attr('data-field')];
        var on = !!message && shown(cell);
        var span = cell.find('.field-error');
        cell.toggleClass('has-error', on);
        cell.find('input, select').attr('aria-invalid', on ? 'true' : null);
        if (on) {
          if (!span.length) { span = $('<span class="help-block field-error" role="alert"></span>').appendTo(cell); }
          span.text(message);
        } else {
          span.remove();
        }
      });
    }

    function show(answer) {
      lastAnswer = answer;
      $('.price-failed').prop('hidden', true);
      table.find('tbody .order-line').each(function () {
        var row = $(this);
        var line = answer.lines[row.attr('data-index')];
        row.find('.line-total-amount').text(line ? line.total_text : '');
        row.find('.line-total').toggleClass('has-total', !!(line && line.total));
        row.find('.line-unit-price').text(line ? line.unit_price_text : '');
        showErrors(row, line ? line.errors : {});
      });
      $('#total-ex-vat').text(answer.totals_text.ex_vat);
      $('#total-vat').text(answer.totals_text.vat);
      $('#total-inc-vat').empty().append($('<strong></strong>').text(answer.totals_text.inc_vat));
      (answer.budgets || []).forEach(function (b) {
        var tr = $('.budget-left[data-budget-id="' + b.id + '"]');
        tr.find('.budget-left-amount').text(b.left_text);
        tr.toggleClass('danger', b.level === 'over').toggleClass('warning', b.level === 'warn');
      });
    }

    var timer = null;
    var request = null;
    var sequence = 0;

    function refresh() {
      var mine = ++sequence;
      if (request) { request.abort(); }
      // The form as the submit would send it (disabled fields are left out there too).
      request = $.ajax({url: config.price_url, method: 'POST', data: form.serialize(), dataType: 'json'});
      request.done(function (answer) { if (mine === sequence) { show(answer); } });
      request.fail(function (xhr, status) {
        if (status !== 'abort' && mine === sequence) { $('.price-failed').text(texts.price_failed).prop('hidden', false); }
      });
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    }

    table.on('input change', 'input, select', function () {
      touch($(this).closest('td'));
      schedule();
    });
    // Leaving a field shows the message it has (a required value left empty), without asking again.
    table.on('focusout', 'input, select', function () {
      touch($(this).closest('td'));
      if (lastAnswer) { show(lastAnswer); }
    });
  });
})(jQuery);
