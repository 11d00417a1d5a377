-- Average order value by the customer's country at the time of the sale (SCD2 version).
-- Reads: fact_sales, dim_customer. An order is one order_key (all its lines).
-- Columns: country, customers, orders, revenue, average_order_value.
SELECT COALESCE(c.country, 'unknown') AS country,
       COUNT(DISTINCT f.customer_id) AS customers,
       COUNT(DISTINCT f.order_key) AS orders,
       CAST(SUM(f.revenue) AS DECIMAL(18, 2)) AS revenue,
       ROUND(CAST(SUM(f.revenue) AS DOUBLE) / CAST(COUNT(DISTINCT f.order_key) AS DOUBLE), 2) AS average_order_value
FROM fact_sales f
LEFT JOIN dim_customer c ON c.customer_sk = f.customer_sk
WHERE f.revenue IS NOT NULL
GROUP BY COALESCE(c.country, 'unknown')
ORDER BY average_order_value DESC, country
