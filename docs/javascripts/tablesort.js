// Make every plain content table sortable (mkdocs-material's documented tablesort integration).
// Runs on each page load, including instant navigation (document$ is mkdocs-material's observable).
document$.subscribe(function () {
  var tables = document.querySelectorAll("article table:not([class])");
  tables.forEach(function (table) {
    new Tablesort(table);
  });
});
