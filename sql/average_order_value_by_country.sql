-- Average order value by the customer's country at the time of the sale (SCD2 version).
-- Reads: fact_sales, dim_customer.
-- Columns: country, customers, orders, revenue, average_order_value.
SELECT COALESCE(c.country, 'unknown') AS country,
       COUNT(DISTINCT f.customer_id) AS customers,
       COUNT(*) AS orders,
       SUM(f.revenue) AS revenue,
       ROUND(CAST(SUM(f.revenue) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE), 2) AS average_order_value
FROM fact_sales f
LEFT JOIN dim_customer c ON c.customer_sk = f.customer_sk
WHERE f.revenue IS NOT NULL
GROUP BY COALESCE(c.country, 'unknown')
ORDER BY average_order_value DESC, country
