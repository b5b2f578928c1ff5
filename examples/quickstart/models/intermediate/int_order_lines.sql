-- @name: int_order_lines
-- @materialize: ephemeral
-- @description: Order lines priced from the catalogue.
-- Ephemeral: never stored in the database. Interlace inlines it into the models that read it
-- (as a CTE in SQL models, as a lazy ibis table in Python models).
select
    o.order_id,
    o.customer_id,
    o.product_id,
    p.category,
    o.channel,
    o.status,
    o.ordered_at,
    o.order_date,
    o.quantity,
    p.unit_price,
    cast(o.quantity * p.unit_price as decimal(12, 2)) as gross_amount,
    cast(o.quantity * p.unit_price * o.discount_rate as decimal(12, 2)) as discount_amount,
    cast(o.quantity * p.unit_price * (1 - o.discount_rate) as decimal(12, 2)) as net_amount
from stg_orders as o
join stg_products as p on p.product_id = o.product_id
