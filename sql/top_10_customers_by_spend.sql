-- Top 10 customers by lifetime spend.
-- Reads: fact_sales, dim_customer (current version; emails are masked in gold). An order is one
-- order_key (all its lines); only priced lines count.
-- Columns: customer_id, email_masked, country, orders, total_spend, average_order_value.
SELECT f.customer_id,
       c.email_masked,
       c.country,
       COUNT(DISTINCT f.order_key) AS orders,
       CAST(SUM(f.revenue) AS DECIMAL(18, 2)) AS total_spend,
       ROUND(CAST(SUM(f.revenue) AS DOUBLE) / CAST(COUNT(DISTINCT f.order_key) AS DOUBLE), 2) AS average_order_value
FROM fact_sales f
LEFT JOIN dim_customer c
  ON c.customer_id = f.customer_id AND c.is_current
WHERE f.revenue IS NOT NULL
GROUP BY f.customer_id, c.email_masked, c.country
ORDER BY total_spend DESC, f.customer_id
LIMIT 10
