-- The three best-selling products (by units) of every category, all time.
-- Reads: agg_product_daily.
-- Columns: category, rank_in_category, product_id, product_name, units, revenue.
WITH totals AS (
  SELECT COALESCE(category, 'unknown') AS category,
         product_id,
         MAX(product_name) AS product_name,
         SUM(units) AS units,
         SUM(revenue) AS revenue
  FROM agg_product_daily
  GROUP BY COALESCE(category, 'unknown'), product_id
), ranked AS (
  SELECT category, product_id, product_name, units, revenue,
         ROW_NUMBER() OVER (PARTITION BY category ORDER BY units DESC, revenue DESC, product_id) AS rank_in_category
  FROM totals
)
SELECT category, rank_in_category, product_id, product_name, units, revenue
FROM ranked
WHERE rank_in_category <= 3
ORDER BY category, rank_in_category
