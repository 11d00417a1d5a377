-- Top 10 customers by lifetime spend.
-- Reads: fact_sales, dim_customer (current version; emails are masked in gold).
-- Columns: customer_id, email_masked, country, orders, total_spend, average_order_value.
SELECT f.customer_id,
       c.email_masked,
       c.country,
       COUNT(*) AS orders,
       SUM(f.revenue) AS total_spend,
       ROUND(CAST(SUM(f.revenue) AS DOUBLE) / CAST(COUNT(f.revenue) AS DOUBLE), 2) AS average_order_value
FROM fact_sales f
LEFT JOIN dim_customer c
  ON c.customer_id = f.customer_id AND c.is_current
WHERE f.revenue IS NOT NULL
GROUP BY f.customer_id, c.email_masked, c.country
ORDER BY total_spend DESC, f.customer_id
LIMIT 10
