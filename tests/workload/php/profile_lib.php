<?php
// Included by profile_me.php: a class and a function in another file.

class Basket
{
    public function total($ms)
    {
        return spin_for($ms);
    }
}

function included_work($ms)
{
    return spin_for($ms);
}
