-- @schema: staging
-- @tags: [staging]
-- @description: Orders with readable channel and status values, an order date and a discount rate.
select
    order_id,
    customer_id,
    product_id,
    quantity,
    cast(discount_pct / 100.0 as decimal(4, 2)) as discount_rate,
    case channel when 'W' then 'web' when 'A' then 'app' when 'S' then 'store' end as channel,
    lower(status) as status,
    cast(ordered_at as timestamp) as ordered_at,
    cast(ordered_at as date) as order_date
from raw.orders
