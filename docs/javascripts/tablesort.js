// Make every plain content table sortable (mkdocs-material's documented tablesort integration).
// Runs on each page load, including instant navigation (document$ is mkdocs-material's observable).
// The first click on a column puts the best value first: columns where higher is better (PSNR,
// SSIM, cPSNR, their Δ, throughput) get Tablesort's data-sort-reverse; lower-is-better columns
// (score, ERGAS, SAM) and text keep the plain ascending order.
var HIGHER_IS_BETTER = /PSNR|SSIM|Mpx\/s/i;
var LOWER_IS_BETTER = /score|params|runtime|ERGAS|SAM|\bCI\b/;

document$.subscribe(function () {
  var tables = document.querySelectorAll("article table:not([class])");
  tables.forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th) {
      var label = th.textContent || "";
      if (HIGHER_IS_BETTER.test(label) && !LOWER_IS_BETTER.test(label)) {
        th.setAttribute("data-sort-reverse", "");
      }
    });
    new Tablesort(table);
  });
});
