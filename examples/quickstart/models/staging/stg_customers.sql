-- @schema: staging
-- @materialize: view
-- @tags: [staging]
-- @description: Customers with tidy names; a view, so it always reflects raw.customers.
select
    customer_id,
    first_name,
    upper(left(last_name, 1)) || lower(substr(last_name, 2)) as last_name,
    lower(email) as email,
    country_code,
    signed_up_on,
    case when is_business then 'business' else 'consumer' end as customer_type
from raw.customers
