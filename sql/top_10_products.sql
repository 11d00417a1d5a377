-- Top 10 products by revenue, all time.
-- Reads: agg_product_daily.
-- Columns: product_id, product_name, category, units, transactions, revenue.
SELECT product_id,
       MAX(product_name) AS product_name,
       MAX(category) AS category,
       SUM(units) AS units,
       SUM(transactions) AS transactions,
       SUM(revenue) AS revenue
FROM agg_product_daily
GROUP BY product_id
ORDER BY revenue DESC, product_id
LIMIT 10
